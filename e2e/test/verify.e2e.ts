// `npm run verify` against the real local API server: the test plays the operators by seeding the
// objects and the status they would write (fresh, stale, failed, unprotected PVC), then checks the
// table, the JSON (same rows), the exit codes (0, 1, and 2 for a cluster it cannot read) and --watch.
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { installVeleroCrds, kube, ROOT, settledNamespace } from "../harness";
import { shared } from "./hooks";

const MANAGER = "e2e-operator";
const CLUSTERS: [string, string][] = [
    ["rciis-prod", "esb-postgres"],
    ["rciis-prod", "ss-postgres"],
    ["monitoring", "grafana-postgres"],
    ["keycloak", "keycloak-pg"],
];
const ago = (hours: number) => new Date(Date.now() - hours * 3600_000).toISOString().replace(/\.\d+Z$/, "Z");

interface JsonRow {
    kind: string;
    name: string;
    status: string;
    detail: string;
}

interface Verdict {
    code: number;
    stdout: string;
    json: { ok: boolean; exitCode: number; rows: JsonRow[]; error?: string };
}

/** The table's rows, read back from its columns (NAME and STATUS hold no spaces; DETAIL is the rest of the line). */
function tableRows(stdout: string): JsonRow[] {
    const [header, ...lines] = stdout.split("\n\n")[0].split("\n");
    assert.match(header, /^KIND\s+NAME\s+STATUS\s+DETAIL$/);
    return lines.map((line) => {
        const m = /^(\S+)\s+(\S+)\s+(OK|WARN|FAIL)(?:\s+(.*))?$/.exec(line);
        assert.ok(m, `not a table row: ${line}`);
        return { kind: m[1], name: m[2], status: m[3], detail: m[4] ?? "" };
    });
}

/** A port nothing listens on: bound by the kernel, then released. */
async function closedPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
}

describe("npm run verify against a local API server", function () {
    this.timeout(10 * 60_000);
    let k: Kube;
    let configFile: string;
    let dir: string;
    const script = path.join(ROOT, "bin", "cli", "verify.js");
    const argsFor = (kubeconfig: string, extra: string[] = []) => [
        script,
        "--stack",
        "baremetal",
        "--config-file",
        configFile,
        "--kubeconfig",
        kubeconfig,
        ...extra,
    ];
    const runVerify = (extra: string[], kubeconfig = shared.kubeconfig) =>
        spawnSync(process.execPath, argsFor(kubeconfig, extra), { encoding: "utf8", timeout: 120_000 });

    /** Runs the table and `--output json`, and checks they agree on the exit code and on every row. */
    const verify = (): Verdict => {
        const table = runVerify([]);
        const json = runVerify(["--output", "json"]);
        assert.strictEqual(table.status, json.status, `table and JSON agree on the exit code; stderr:\n${table.stderr}\n${json.stderr}`);
        const doc = JSON.parse(json.stdout) as Verdict["json"];
        assert.strictEqual(doc.exitCode, json.status, "the JSON states the exit code");
        assert.deepStrictEqual(
            tableRows(table.stdout),
            doc.rows.map(({ kind, name, status, detail }) => ({ kind, name, status, detail })),
            "the table shows the JSON's rows",
        );
        return { code: table.status ?? -1, stdout: table.stdout, json: doc };
    };
    /** A copy of the test cluster's kubeconfig, changed. */
    const kubeconfigVariant = (name: string, change: (doc: Record<string, unknown>) => void): string => {
        const doc = parse(fs.readFileSync(shared.kubeconfig, "utf8")) as Record<string, unknown>;
        change(doc);
        const file = path.join(dir, name);
        fs.writeFileSync(file, stringify(doc), { mode: 0o600 });
        return file;
    };
    /** Asserts a one-line "could not read the cluster" error and exit 2. */
    const unreadable = (run: ReturnType<typeof runVerify>, message: RegExp) => {
        assert.strictEqual(run.status, 2, run.stderr);
        assert.match(run.stderr, /^error: could not read the cluster: [^\n]+\n$/);
        assert.match(run.stderr, message);
        assert.ok(!/\n\s+at /.test(run.stderr), `stack trace printed:\n${run.stderr}`);
    };
    const row = (v: Verdict, kind: string, name: string) => {
        const r = v.json.rows.find((x) => x.kind === kind && x.name === name);
        assert.ok(r, `no ${kind} row ${name}`);
        return r;
    };
    const apply = (group: string, version: string, plural: string, ns: string, obj: KubeObject) =>
        k.apply(apiPath(group, version, plural, ns, obj.metadata?.name), obj, MANAGER);

    before(async () => {
        k = kube(shared.kubeconfig);
        // Velero as its chart installs it (no stack here): its CRDs, then the objects and status its server would write.
        await installVeleroCrds(k, MANAGER);
        // The stack file with a namespace-scoped schedule only, so PVC coverage is not trivially "every namespace".
        const { config } = readStackConfig(stackFile("baremetal"));
        const doc: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(config)) {
            try {
                doc[key] = JSON.parse(value);
            } catch {
                doc[key] = value;
            }
        }
        doc["backup:velero"] = {
            schedules: { "daily-namespaces": { schedule: "0 2 * * *", ttl: "720h", includedNamespaces: ["rciis-prod"] } },
        };
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "verify-e2e-"));
        configFile = path.join(dir, "Pulumi.baremetal.yaml");
        fs.writeFileSync(configFile, stringify({ config: doc }));

        // What the platform and the operators would have produced by now: a fresh state.
        await settledNamespace(k, "velero");
        await k.apply(
            apiPath("", "v1", "namespaces", undefined, "velero"),
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "velero" } },
            MANAGER,
        );
        for (const [ns, name] of CLUSTERS) {
            await apply("postgresql.cnpg.io", "v1", "clusters", ns, {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: { name, namespace: ns },
                spec: {
                    plugins: [
                        { name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: `${name}-backup` } },
                    ],
                },
            });
            await k.patchStatus(apiPath("postgresql.cnpg.io", "v1", "clusters", ns, name), {
                conditions: [
                    {
                        type: "ContinuousArchiving",
                        status: "True",
                        reason: "ContinuousArchivingSuccess",
                        message: "",
                        lastTransitionTime: ago(48),
                    },
                ],
            });
            await apply("postgresql.cnpg.io", "v1", "scheduledbackups", ns, {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "ScheduledBackup",
                metadata: { name: `${name}-base-backup`, namespace: ns },
                spec: {
                    schedule: "0 0 2 * * *",
                    cluster: { name },
                    method: "plugin",
                    pluginConfiguration: { name: "barman-cloud.cloudnative-pg.io" },
                },
            });
            await apply("postgresql.cnpg.io", "v1", "backups", ns, {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Backup",
                metadata: { name: `${name}-seeded`, namespace: ns, labels: { "cnpg.io/cluster": name } },
                spec: { cluster: { name }, method: "plugin", pluginConfiguration: { name: "barman-cloud.cloudnative-pg.io" } },
            });
            await k.patchStatus(apiPath("postgresql.cnpg.io", "v1", "backups", ns, `${name}-seeded`), {
                phase: "completed",
                stoppedAt: ago(6),
            });
        }
        await apply("batch", "v1", "cronjobs", "rciis-prod", {
            apiVersion: "batch/v1",
            kind: "CronJob",
            metadata: { name: "rciis-mssql-backup", namespace: "rciis-prod" },
            spec: {
                schedule: "0 3 * * *",
                jobTemplate: {
                    spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "c", image: "busybox:1.37" }] } } },
                },
            },
        });
        await k.patchStatus(apiPath("batch", "v1", "cronjobs", "rciis-prod", "rciis-mssql-backup"), {
            lastSuccessfulTime: ago(9),
            lastScheduleTime: ago(9),
        });
        const velero = (plural: string, obj: KubeObject) => apply("velero.io", "v1", plural, "velero", obj);
        await velero("backupstoragelocations", {
            apiVersion: "velero.io/v1",
            kind: "BackupStorageLocation",
            metadata: { name: "default", namespace: "velero" },
            spec: { provider: "aws", objectStorage: { bucket: "velero-backups" } },
            status: { phase: "Available" },
        });
        await velero("schedules", {
            apiVersion: "velero.io/v1",
            kind: "Schedule",
            metadata: { name: "daily-namespaces", namespace: "velero" },
            spec: { schedule: "0 2 * * *", template: {} },
        });
        await velero("backups", {
            apiVersion: "velero.io/v1",
            kind: "Backup",
            metadata: { name: "daily-namespaces-1", namespace: "velero", labels: { "velero.io/schedule-name": "daily-namespaces" } },
            spec: {},
            status: { phase: "Completed", completionTimestamp: ago(10) },
        });
        for (const [ns, name, labels] of [
            ["rciis-prod", "data-kafka-0", {}],
            ["rciis-prod", "esb-postgres-1", { "cnpg.io/cluster": "esb-postgres" }],
            ["rciis-prod", "data-mssql-0", {}],
        ] as [string, string, Record<string, string>][]) {
            await apply("", "v1", "persistentvolumeclaims", ns, {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                metadata: { name, namespace: ns, labels },
                spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
            });
        }
    });

    after(() => {
        k?.close();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("reports a fresh cluster as verified, exit 0", () => {
        const v = verify();
        assert.strictEqual(v.code, 0, v.stdout);
        assert.strictEqual(v.json.ok, true);
        assert.match(v.stdout, /^KIND\s+NAME\s+STATUS\s+DETAIL$/m);
        assert.match(v.stdout, /^postgres\s+rciis-prod\/esb-postgres\s+OK\s+last base backup 6h ago/m);
        assert.match(v.stdout, /all backups verified/);
        assert.strictEqual(row(v, "pvc", "*").detail, "3 of 3 PersistentVolumeClaims covered");
        const alias = runVerify(["--json"]);
        assert.strictEqual(alias.status, 0);
        const verdict = (rows: JsonRow[]) => rows.map((r) => `${r.kind} ${r.name} ${r.status}`);
        assert.deepStrictEqual(
            verdict((JSON.parse(alias.stdout) as Verdict["json"]).rows),
            verdict(v.json.rows),
            "--json is --output json",
        );
    });

    it("exits 2 with one line naming what failed: an unreachable API server, an unknown context", async () => {
        const port = await closedPort();
        const closed = kubeconfigVariant("closed-port", (doc) => {
            const [cluster] = doc.clusters as { cluster: { server: string } }[];
            cluster.cluster.server = `https://127.0.0.1:${port}`;
        });
        for (const output of ["table", "json"]) {
            const run = runVerify(["--output", output], closed);
            unreadable(run, new RegExp(`GET https://127\\.0\\.0\\.1:${port}/api\\S*: connect ECONNREFUSED`));
            if (output === "json") assert.strictEqual((JSON.parse(run.stdout) as Verdict["json"]).exitCode, 2);
        }
        unreadable(runVerify(["--context", "no-such-context"]), /: context no-such-context not found in /);
    });

    it("exits 2 naming the API path and HTTP status when the credentials are refused (401) or lack RBAC (403)", async () => {
        const badToken = kubeconfigVariant("bad-token", (doc) => {
            doc.users = [{ name: "e2e-admin", user: { token: "not-a-valid-token" } }];
        });
        unreadable(runVerify([], badToken), /: GET \/apis?\/\S+: 401 Unauthorized$/m);

        // A service account that exists and authenticates, bound to no role.
        const sa = apiPath("", "v1", "serviceaccounts", "default", "verify-e2e-nobody");
        await k.apply(
            sa,
            { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "verify-e2e-nobody", namespace: "default" } },
            MANAGER,
        );
        const issued = await k.create(`${sa}/token`, {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 600 },
        });
        const token = (issued?.status as { token?: string } | undefined)?.token;
        assert.ok(token, "TokenRequest returned no token");
        const noRbac = kubeconfigVariant("no-rbac", (doc) => {
            doc.users = [{ name: "e2e-admin", user: { token } }];
        });
        unreadable(
            runVerify([], noRbac),
            /: GET \/apis?\/\S+: 403 \S+ is forbidden: User "system:serviceaccount:default:verify-e2e-nobody" cannot list/,
        );
        await k.delete(sa);
    });

    it("flags a stale base backup, exit 1", async () => {
        await k.patchStatus(apiPath("postgresql.cnpg.io", "v1", "backups", "monitoring", "grafana-postgres-seeded"), {
            stoppedAt: ago(40),
        });
        const v = verify();
        assert.strictEqual(v.code, 1);
        assert.deepStrictEqual(row(v, "postgres", "monitoring/grafana-postgres"), {
            ...row(v, "postgres", "monitoring/grafana-postgres"),
            status: "FAIL",
            detail: "last base backup 40h ago, limit 27h",
        });
        assert.match(v.stdout, /^postgres\s+monitoring\/grafana-postgres\s+FAIL\s+last base backup 40h ago, limit 27h$/m);
        await k.patchStatus(apiPath("postgresql.cnpg.io", "v1", "backups", "monitoring", "grafana-postgres-seeded"), { stoppedAt: ago(6) });
    });

    it("flags failed WAL archiving, a failed Velero backup and an unavailable storage location", async () => {
        await k.patchStatus(apiPath("postgresql.cnpg.io", "v1", "clusters", "keycloak", "keycloak-pg"), {
            conditions: [
                {
                    type: "ContinuousArchiving",
                    status: "False",
                    reason: "ContinuousArchivingFailing",
                    message: "AccessDenied",
                    lastTransitionTime: ago(1),
                },
            ],
        });
        await k.apply(
            apiPath("velero.io", "v1", "backups", "velero", "daily-namespaces-2"),
            {
                apiVersion: "velero.io/v1",
                kind: "Backup",
                metadata: { name: "daily-namespaces-2", namespace: "velero", labels: { "velero.io/schedule-name": "daily-namespaces" } },
                spec: {},
                status: { phase: "PartiallyFailed" },
            },
            MANAGER,
        );
        await k.apply(
            apiPath("velero.io", "v1", "backupstoragelocations", "velero", "default"),
            {
                apiVersion: "velero.io/v1",
                kind: "BackupStorageLocation",
                metadata: { name: "default", namespace: "velero" },
                spec: { provider: "aws", objectStorage: { bucket: "velero-backups" } },
                status: { phase: "Unavailable", message: "rpc error: AccessDenied" },
            },
            MANAGER,
        );
        const v = verify();
        assert.strictEqual(v.code, 1);
        assert.strictEqual(row(v, "postgres", "keycloak/keycloak-pg").detail, "WAL archiving failing: AccessDenied");
        assert.strictEqual(row(v, "velero-backups", "velero/*").detail, "failed: daily-namespaces-2 (PartiallyFailed)");
        assert.strictEqual(row(v, "velero-location", "velero/default").detail, "phase Unavailable: rpc error: AccessDenied");
    });

    it("--watch --output json: one document per refresh until SIGTERM, then exits with the last refresh's code", async () => {
        // The state the previous test left: failing WAL archiving and Velero failures, so 1 (not a default 0).
        const child = spawn(process.execPath, argsFor(shared.kubeconfig, ["--watch", "--interval", "5", "--output", "json"]), {
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (err += c.toString()));
        const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
            child.on("exit", (code, sig) => resolve([code, sig])),
        );
        const deadline = Date.now() + 60_000;
        while (out.split("\n").length < 3) {
            assert.ok(Date.now() < deadline, `fewer than two documents within 60 s:\n${out}\n${err}`);
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.ok(child.pid !== undefined);
        process.kill(child.pid, "SIGTERM");
        const [code, signal] = await exited;
        assert.deepStrictEqual([code, signal], [1, null], `stderr: ${err}`);
        assert.strictEqual(err, "");
        const docs = out
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line) as Verdict["json"] & { checkedAt: string });
        assert.ok(docs.length >= 2);
        for (const d of docs) {
            assert.deepStrictEqual([d.exitCode, d.ok], [1, false]);
            assert.strictEqual(d.rows.find((r) => r.name === "keycloak/keycloak-pg")?.status, "FAIL");
        }
        const gap = Date.parse(docs[1].checkedAt) - Date.parse(docs[0].checkedAt);
        assert.ok(gap >= 4_900 && gap < 10_000, `refreshes ${gap} ms apart, expected 5 s`);
    });

    it("lists an unprotected PVC, and accepts it once opted out", async () => {
        await k.apply(
            apiPath("", "v1", "namespaces", undefined, "scratch"),
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "scratch" } },
            MANAGER,
        );
        const pvc = (annotations: Record<string, string>): KubeObject => ({
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name: "cache-0", namespace: "scratch", annotations },
            spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
        });
        await k.apply(apiPath("", "v1", "persistentvolumeclaims", "scratch", "cache-0"), pvc({}), MANAGER);
        const unprotected = verify();
        assert.strictEqual(row(unprotected, "pvc", "scratch/cache-0").status, "FAIL");
        assert.match(unprotected.stdout, /^pvc\s+scratch\/cache-0\s+FAIL\s+unprotected: no Velero schedule includes scratch/m);
        await k.apply(
            apiPath("", "v1", "persistentvolumeclaims", "scratch", "cache-0"),
            pvc({ "backup.platform/exclude": "rebuildable cache" }),
            MANAGER,
        );
        const optedOut = verify();
        assert.ok(!optedOut.json.rows.some((r) => r.name === "scratch/cache-0"));
        assert.strictEqual(row(optedOut, "pvc", "*").detail, "4 of 4 PersistentVolumeClaims covered");
    });
});
