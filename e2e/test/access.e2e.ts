// The access matrix, asked of RGW: `pulumi up` of the bare-metal stack against the local API server, the
// Rook stand-in turns the applied CephObjectStoreUsers and ObjectBucketClaims into RGW users, keys,
// buckets, bucket policies and lifecycle rules, then every object user tries list / get / put / delete /
// multipart under every prefix of every bucket with the keys from its Secret. What RGW allows must be
// exactly what the README's access table promises.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { COLUMNS, ELSEWHERE, README_ACCESS_EXAMPLE, readmeAccessTable, type AccessRow, type Column } from "../../test/rgw-policy";
import { kube, localOverrides, OBJECT_STORE, objectStoreOverrides, ROOT } from "../harness";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
interface Keys {
    access: string;
    secret: string;
}
type Result = string; // "allow" | "deny" | "error: ..."
interface Cell extends Record<Column, Result> {
    user: string;
    bucket: string;
    prefix: string;
}
interface Probed {
    cells: Cell[];
    buckets: { user: string; bucket: string; head: Result; location: Result }[];
    rgw: Record<string, { owner: string; policy: unknown; lifecycle: unknown }>;
}

const NS = OBJECT_STORE.namespace;
const OWNER = "backup-owner";
/** The prefix no grant names, the one the policy evaluator uses, so the README table has its rows. */
const NOBODY = ELSEWHERE;
const REGION = "us-east-1";

/** The README access table's example as stack config (the stack file's cnpg settings kept). */
function readmeExample(): Record<string, unknown> {
    const cnpg = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:cnpg"]) as Obj;
    return {
        "backup:drills": README_ACCESS_EXAMPLE.drills,
        "backup:cnpg": { ...cnpg, recoveries: README_ACCESS_EXAMPLE.recoveries },
        "backup:offsite": README_ACCESS_EXAMPLE.offsite,
    };
}

const decode = (v: string) => Buffer.from(v, "base64").toString("utf8");

async function secretData(k: Kube, ns: string, name: string): Promise<Record<string, string>> {
    const s = await k.get(apiPath("", "v1", "secrets", ns, name));
    assert.ok(s, `Secret ${ns}/${name} not found`);
    return Object.fromEntries(Object.entries((s.data ?? {}) as Record<string, string>).map(([key, v]) => [key, decode(v)]));
}

/** Polls until `check` returns nothing (the reason it is not done yet otherwise). */
async function until(what: string, seconds: number, check: () => Promise<string | undefined>): Promise<void> {
    let reason: string | undefined = "not checked";
    for (const end = Date.now() + seconds * 1000; Date.now() < end; await new Promise((r) => setTimeout(r, 500))) {
        reason = await check();
        if (reason === undefined) return;
    }
    const log = fs.existsSync(shared.rookLog) ? fs.readFileSync(shared.rookLog, "utf8").split("\n").slice(-30).join("\n") : "";
    throw new Error(`${what} after ${String(seconds)} s: ${reason}\nRook stand-in log (${shared.rookLog}):\n${log}`);
}

function venvPython(): string {
    const cache =
        process.env.BACKUP_PLATFORM_CACHE ??
        path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "k8s-backup-platform");
    return path.join(cache, "venv", "bin", "python");
}

const mark = (r: Result) => (r === "allow" ? "yes" : r === "deny" ? "-" : "ERR");

/** A table as the README writes them: padded columns. */
function table(header: string[], rows: string[][]): string {
    const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i])).join(" | ")} |`;
    return [line(header), line(width.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

describe("the access matrix, asked of RGW (bare-metal stack, README example)", function () {
    this.timeout(30 * 60_000);
    let ws: Workspace;
    let k: Kube;
    const users = new Map<string, Keys>();
    let ownerKeys: Keys;
    let claims: KubeObject[];

    before(() => {
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init({ ...localOverrides(), ...objectStoreOverrides(shared.store, REGION), ...readmeExample() });
        k = kube(shared.kubeconfig);
    });

    after(() => {
        k?.close();
        if (process.env.E2E_KEEP === "1") return;
        // The next test files up the stack file's own region: leave no StorageClass of this region behind (its
        // parameters are immutable), nor this example's extra objects. Users, claims and keys are retained by design.
        ws?.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"], { allowFailure: true });
        ws?.remove();
    });

    it("up; the Rook stand-in makes every object user Ready and every bucket claim Bound", async () => {
        ws.up();
        await until("object users and claims not reconciled", 180, async () => {
            const pending = [
                ...(await k.list(apiPath("ceph.rook.io", "v1", "cephobjectstoreusers", NS)))
                    .filter((u) => (u.status as Obj | undefined)?.phase !== "Ready")
                    .map((u) => `CephObjectStoreUser ${String((u.metadata as Obj).name)}`),
                ...(await k.list(apiPath("objectbucket.io", "v1alpha1", "objectbucketclaims", NS)))
                    .filter((c) => (c.status as Obj | undefined)?.phase !== "Bound")
                    .map((c) => `ObjectBucketClaim ${String((c.metadata as Obj).name)}`),
            ];
            return pending.length ? pending.join(", ") : undefined;
        });
        claims = await k.list(apiPath("objectbucket.io", "v1alpha1", "objectbucketclaims", NS));
        assert.deepStrictEqual(claims.map((c) => (c.spec as Obj).bucketName).sort(), ["cnpg-backups", "mssql-backups", "velero-backups"]);
    });

    it("reads every object user's keys from its Secret, and every consumer Secret carries the same keys", async () => {
        for (const u of await k.list(apiPath("ceph.rook.io", "v1", "cephobjectstoreusers", NS))) {
            const name = String((u.metadata as Obj).name);
            const ref = (
                (u.spec as Obj).keys as
                    { accessKeyRef: { name: string; key: string }; secretKeyRef: { name: string; key: string } }[] | undefined
            )?.[0];
            if (!ref) {
                // Rook generates the keys of a user without spec.keys (the bucket owner) into its own Secret.
                assert.strictEqual(name, OWNER, `${name} has no spec.keys: only the bucket owner may rely on Rook's keys`);
                const d = await secretData(k, NS, `rook-ceph-object-user-${OBJECT_STORE.name}-${name}`);
                ownerKeys = { access: d.AccessKey, secret: d.SecretKey };
                continue;
            }
            const access = (await secretData(k, NS, ref.accessKeyRef.name))[ref.accessKeyRef.key];
            const secret = (await secretData(k, NS, ref.secretKeyRef.name))[ref.secretKeyRef.key];
            assert.ok(access && secret, `${name}: keys missing from its Secret`);
            users.set(name, { access, secret });
        }
        assert.ok(ownerKeys, `${OWNER}'s Rook Secret was not found`);
        // Consumer Secrets: every Secret outside the object store's namespace that holds one of the users'
        // access keys holds that user's secret key too, and every user's keys reach at least one consumer.
        const byAccess = new Map([...users].map(([u, key]) => [key.access, u]));
        const reached = new Set<string>();
        const namespaces = (await k.list("/api/v1/namespaces")).map((n) => String((n.metadata as Obj).name));
        for (const ns of namespaces.filter((n) => n !== NS)) {
            for (const s of await k.list(apiPath("", "v1", "secrets", ns))) {
                const values = Object.values((s.data ?? {}) as Record<string, string>).map(decode);
                const text = values.join("\n");
                for (const [access, user] of byAccess) {
                    if (!text.includes(access)) continue;
                    assert.ok(
                        text.includes(users.get(user)?.secret ?? "?"),
                        `${ns}/${String((s.metadata as Obj).name)} has ${user}'s access key but not its secret key`,
                    );
                    reached.add(user);
                }
                // A key-shaped field that belongs to no user is a stale copy.
                for (const [field, v] of Object.entries((s.data ?? {}) as Record<string, string>)) {
                    if (!/^(ACCESS_KEY_ID|AWS_ACCESS_KEY_ID|access-key)$/i.test(field)) continue;
                    const key = decode(v);
                    if (/^[A-Z0-9]{16,}$/.test(key))
                        assert.ok(
                            byAccess.has(key) || key === ownerKeys.access,
                            `${ns}/${String((s.metadata as Obj).name)}.${field}: an access key no user has`,
                        );
                }
            }
        }
        assert.deepStrictEqual(
            [...users.keys()].filter((u) => !reached.has(u)),
            [],
            "users whose keys reach no consumer Secret",
        );
    });

    it("RGW allows exactly what the README's access table promises, and nothing else", function () {
        const promised = readmeAccessTable();
        const buckets = new Map<string, Set<string>>();
        for (const c of claims) buckets.set(String((c.spec as Obj).bucketName), new Set(["", NOBODY]));
        for (const row of promised) {
            assert.ok(buckets.has(row.bucket), `the README names bucket ${row.bucket}, which no claim creates`);
            assert.ok(users.has(row.user), `the README names ${row.user}, which is no keyed object user`);
            if (row.prefix !== "*" && row.prefix !== "/") buckets.get(row.bucket)?.add(row.prefix);
        }
        // Probe objects are written by a user the README lets put there (else by the bucket owner), so a reader's
        // get meets an object another user owns, as in a restore.
        const seeders = Object.fromEntries(
            [...buckets].map(([b, prefixes]) => [
                b,
                Object.fromEntries(
                    [...prefixes].flatMap((p) => {
                        const writer = promised.find(
                            (r) => r.bucket === b && r.rights.put && (r.prefix === "*" || r.prefix === (p === "" ? "/" : p)),
                        );
                        return writer ? [[p, writer.user]] : [];
                    }),
                ),
            ]),
        );
        const input = {
            endpoint: shared.store.endpoint,
            region: REGION,
            cephConf: shared.store.cephConf,
            owner: ownerKeys,
            users: Object.fromEntries(users),
            buckets: Object.fromEntries([...buckets].map(([b, p]) => [b, [...p].sort()])),
            seeders,
        };
        const started = Date.now();
        const res = spawnSync(venvPython(), [path.join(ROOT, "e2e", "access", "probe.py")], {
            input: JSON.stringify(input),
            encoding: "utf8",
            env: shared.env,
            maxBuffer: 64 * 1024 * 1024,
        });
        assert.strictEqual(res.status, 0, `probe.py failed:\n${res.stderr}`);
        const probed = JSON.parse(res.stdout) as Probed;
        const expect = (user: string, bucket: string, prefix: string): AccessRow["rights"] | undefined => {
            const rows = promised.filter((r) => r.user === user && r.bucket === bucket);
            return (rows.find((r) => r.prefix === (prefix === "" ? "/" : prefix)) ?? rows.find((r) => r.prefix === "*"))?.rights;
        };

        const wrong: string[] = [];
        const rows = probed.cells.map((c) => {
            const rights = expect(c.user, c.bucket, c.prefix);
            return [
                c.user,
                c.bucket,
                c.prefix === "" ? "/" : c.prefix,
                ...COLUMNS.map((col) => {
                    const want = rights?.[col] ?? false;
                    const got = c[col];
                    if (got !== "allow" && got !== "deny") wrong.push(`${c.user} ${col} ${c.bucket}/${c.prefix}: ${got}`);
                    else if ((got === "allow") !== want)
                        wrong.push(
                            `${c.user} ${col} ${c.bucket}/${c.prefix}: RGW ${got === "allow" ? "allows" : "refuses"}, the README ${want ? "promises it" : "does not"}`,
                        );
                    return `${mark(got)}${(got === "allow") !== want ? " !" : ""}`;
                }),
            ];
        });
        console.log(
            `\n    Access matrix observed in RGW (${String(probed.cells.length)} cells, ${String(Date.now() - started)} ms; "!" = differs from the README):\n`,
        );
        console.log(table(["user", "bucket", "prefix", ...COLUMNS], rows).replace(/^/gm, "    "));

        // Bucket-level calls: every user a bucket's table rows name may find its region (README) and its
        // existence (HeadBucket, which barman-cloud and velero call); no one else may.
        const bucketRows = probed.buckets.map((b) => {
            const named = promised.some((r) => r.user === b.user && r.bucket === b.bucket);
            for (const [what, got] of [
                ["GetBucketLocation", b.location],
                ["HeadBucket", b.head],
            ] as const) {
                if (got !== "allow" && got !== "deny") wrong.push(`${b.user} ${what} ${b.bucket}: ${got}`);
                else if ((got === "allow") !== named)
                    wrong.push(
                        `${b.user} ${what} ${b.bucket}: RGW ${got === "allow" ? "allows" : "refuses"}, ${named ? "named" : "not named"} in the README`,
                    );
            }
            return [b.user, b.bucket, mark(b.head), mark(b.location)];
        });
        console.log("\n" + table(["user", "bucket", "HeadBucket", "GetBucketLocation"], bucketRows).replace(/^/gm, "    ") + "\n");
        assert.deepStrictEqual(wrong, [], "RGW and the README's access table disagree");
        // Every cell the README promises was asked.
        for (const row of promised)
            assert.ok(
                probed.cells.some((c) => c.user === row.user && c.bucket === row.bucket),
                `${row.user} on ${row.bucket} was not probed`,
            );

        // What RGW holds for each bucket is what the program applied: owner, policy, lifecycle rules.
        for (const c of claims) {
            const bucket = String((c.spec as Obj).bucketName);
            const cfg = (c.spec as Obj).additionalConfig as Record<string, string>;
            const live = probed.rgw[bucket];
            assert.strictEqual(live.owner, OWNER, `${bucket}'s owner in RGW`);
            assert.strictEqual(cfg.bucketOwner, OWNER);
            assert.deepStrictEqual(live.policy, JSON.parse(cfg.bucketPolicy), `${bucket}'s policy in RGW`);
            assert.deepStrictEqual(
                normaliseRules(live.lifecycle),
                normaliseRules((JSON.parse(cfg.bucketLifecycle) as { Rules: unknown }).Rules),
                `${bucket}'s lifecycle in RGW`,
            );
        }
    });
});

/**
 * RGW 16 returns a rule put with `Filter: {Prefix: ""}` as the legacy top-level `Prefix: ""` (see
 * e2e/STANDINS.md); read both forms as one, and compare nothing else loosely.
 */
function normaliseRules(rules: unknown): unknown {
    assert.ok(Array.isArray(rules), `lifecycle rules: ${JSON.stringify(rules)}`);
    return (rules as Obj[]).map((r) => {
        const { Prefix, ...rest } = r;
        return Prefix !== undefined && rest.Filter === undefined ? { ...rest, Filter: { Prefix } } : r;
    });
}
