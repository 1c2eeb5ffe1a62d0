import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseConfig } from "../config";
import { evaluate, OPT_OUT } from "../cli/checks";
import { type Row } from "../cli/rows";
import { type Snapshot } from "../cli/snapshot";
import { KubeError, type KubeObject } from "../kube/client";
import { projectRoot } from "../cli/stackfile";
import { EXIT, exitCode, parseArgs, summary, table, USAGE, verify, type Report, type VerifyIo } from "../cli/verify";
import { coverageCanFail, coveredBy } from "../core/coverage";
import { ALERT_STACKS, alertStackConfig } from "./alert-stacks";
import { coverageFixture, pvcObjects } from "./coverage-fixture";
import { stackConfig } from "./harness";
import { coverageRules } from "../config/coverage";

const NOW = Date.parse("2026-11-21T12:00:00Z");
const ago = (hours: number) => new Date(NOW - hours * 3600_000).toISOString();
const obj = (namespace: string, name: string, rest: Record<string, unknown> = {}, labels: Record<string, string> = {}): KubeObject => ({
    metadata: { namespace, name, labels, creationTimestamp: ago(24 * 30) },
    ...rest,
});
const cfg = parseConfig(stackConfig("baremetal"));

/** A cluster where everything is fresh. */
function healthy(): Snapshot {
    const clusters = cfg.postgres.map((db) =>
        obj(db.namespace, db.name, {
            spec: {
                plugins: [
                    { name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: `${db.name}-backup` } },
                ],
            },
            status: { conditions: [{ type: "ContinuousArchiving", status: "True" }] },
        }),
    );
    return {
        clusters,
        scheduledBackups: cfg.postgres.map((db) => obj(db.namespace, `${db.name}-base-backup`)),
        backups: cfg.postgres.map((db) =>
            obj(db.namespace, `${db.name}-1`, { spec: { cluster: { name: db.name } }, status: { phase: "completed", stoppedAt: ago(5) } }),
        ),
        objectStores: cfg.postgres.map((db) =>
            obj(db.namespace, `${db.name}-backup`, {
                status: { serverRecoveryWindow: { [db.name]: { firstRecoverabilityPoint: ago(24 * 20) } } },
            }),
        ),
        cronJobs: [obj("rciis-prod", "rciis-mssql-backup", { spec: {}, status: { lastSuccessfulTime: ago(9) } })],
        veleroLocations: [obj("velero", "default", { status: { phase: "Available" } })],
        veleroSchedules: [obj("velero", "daily-namespaces"), obj("velero", "weekly-full")],
        veleroBackups: [
            obj(
                "velero",
                "daily-1",
                { status: { phase: "Completed", completionTimestamp: ago(10) } },
                { "velero.io/schedule-name": "daily-namespaces" },
            ),
            obj(
                "velero",
                "weekly-1",
                { status: { phase: "Completed", completionTimestamp: ago(50) } },
                { "velero.io/schedule-name": "weekly-full" },
            ),
        ],
        pvcs: [
            obj("rciis-prod", "data-kafka-0", { spec: { storageClassName: "ceph-rbd-single" } }),
            obj("rciis-prod", "esb-postgres-1", {}, { "cnpg.io/cluster": "esb-postgres" }),
        ],
    };
}

const row = (rows: Row[], kind: string, name: string) => {
    const found = rows.find((r) => r.kind === kind && r.name === name);
    assert.ok(found, `no ${kind} row ${name}: ${rows.map((r) => `${r.kind}:${r.name}`).join(", ")}`);
    return found;
};

describe("verify checks", () => {
    it("reports everything fresh as OK, with the facts", () => {
        const rows = evaluate(cfg, healthy(), NOW);
        assert.deepStrictEqual(
            rows.filter((r) => r.status !== "OK").map((r) => r.name),
            [],
        );
        const esb = row(rows, "postgres", "rciis-prod/esb-postgres");
        assert.strictEqual(esb.facts.lastBackupAgeSeconds, 5 * 3600);
        assert.strictEqual(esb.facts.firstRecoverabilityPoint, ago(24 * 20));
        assert.strictEqual(esb.facts.scheduledBackup, "rciis-prod/esb-postgres-base-backup");
        assert.strictEqual(row(rows, "pvc", "*").detail, "2 of 2 PersistentVolumeClaims covered");
    });

    it("flags a stale base backup against the CNPG schedule (daily: 27h)", () => {
        const snap = healthy();
        (snap.backups[0].status as Record<string, unknown>).stoppedAt = ago(28);
        const r = row(evaluate(cfg, snap, NOW), "postgres", "rciis-prod/esb-postgres");
        assert.deepStrictEqual([r.status, r.detail], ["FAIL", "last base backup 28h ago, limit 27h"]);
    });

    it("flags failing WAL archiving, a missing ScheduledBackup and a missing backup configuration", () => {
        const snap = healthy();
        snap.clusters[1].status = {
            conditions: [{ type: "ContinuousArchiving", status: "False", message: "unexpected failure invoking barman-cloud-wal-archive" }],
        };
        snap.scheduledBackups = snap.scheduledBackups.filter((s) => s.metadata?.name !== "grafana-postgres-base-backup");
        snap.clusters[3].spec = {};
        const rows = evaluate(cfg, snap, NOW);
        assert.deepStrictEqual(
            row(rows, "postgres", "rciis-prod/ss-postgres").detail,
            "WAL archiving failing: unexpected failure invoking barman-cloud-wal-archive",
        );
        assert.deepStrictEqual(
            row(rows, "postgres", "monitoring/grafana-postgres").detail,
            "ScheduledBackup grafana-postgres-base-backup missing",
        );
        assert.deepStrictEqual(row(rows, "postgres", "keycloak/keycloak-pg").detail, "no plugin backup configuration on the Cluster");
    });

    it("checks SQL Server and Velero freshness and failures", () => {
        const snap = healthy();
        (snap.cronJobs[0].status as Record<string, unknown>).lastSuccessfulTime = ago(30);
        (snap.veleroLocations[0].status as Record<string, unknown>) = { phase: "Unavailable", message: "AccessDenied" };
        snap.veleroBackups.push(
            obj("velero", "daily-2", { status: { phase: "PartiallyFailed" } }, { "velero.io/schedule-name": "daily-namespaces" }),
        );
        snap.veleroBackups[2].metadata = { ...snap.veleroBackups[2].metadata, creationTimestamp: ago(1) };
        (snap.veleroBackups[1].status as Record<string, unknown>).completionTimestamp = ago(24 * 8);
        const rows = evaluate(cfg, snap, NOW);
        assert.strictEqual(row(rows, "mssql", "rciis-prod/rciis-mssql-backup").detail, "last success 30h ago, limit 27h");
        assert.strictEqual(row(rows, "velero-location", "velero/default").detail, "phase Unavailable: AccessDenied");
        assert.strictEqual(row(rows, "velero-schedule", "velero/weekly-full").status, "FAIL");
        assert.strictEqual(row(rows, "velero-schedule", "velero/daily-namespaces").status, "OK");
        assert.strictEqual(row(rows, "velero-backups", "velero/*").detail, "failed: daily-2 (PartiallyFailed)");
    });

    it("lists PVCs no backup covers, and honours the opt-out annotation", () => {
        const namespacesOnly = parseConfig({
            ...stackConfig("baremetal"),
            velero: { schedules: { "daily-namespaces": { schedule: "0 2 * * *", ttl: "720h", includedNamespaces: ["rciis-prod"] } } },
        });
        const snap = healthy();
        snap.veleroSchedules = [obj("velero", "daily-namespaces")];
        snap.pvcs.push(
            obj("scratch", "cache-0"),
            { metadata: { namespace: "scratch", name: "tmp-0", annotations: { [OPT_OUT]: "rebuildable cache" } } },
            obj("rciis-prod", "data-mssql-0"),
            obj("keycloak", "keycloak-pg-1", {}, { "cnpg.io/cluster": "keycloak-pg" }),
            obj("keycloak", "other-pg-1", {}, { "cnpg.io/cluster": "other-pg" }),
        );
        const rows = evaluate(namespacesOnly, snap, NOW).filter((r) => r.kind === "pvc");
        assert.deepStrictEqual(
            rows.map((r) => [r.name, r.status]),
            [
                ["*", "FAIL"],
                ["scratch/cache-0", "FAIL"],
                ["keycloak/other-pg-1", "FAIL"],
            ],
        );
        assert.strictEqual(rows[0].detail, "5 of 7 PersistentVolumeClaims covered");
    });

    it("treats a schedule without a namespace list as covering every namespace", () => {
        const snap = healthy();
        snap.pvcs.push(obj("scratch", "cache-0", { spec: { storageClassName: "ceph-rbd-single" } }));
        assert.ok(evaluate(cfg, snap, NOW).every((r) => r.kind !== "pvc" || r.status === "OK"));
    });

    it("reports exactly the shared coverage fixture's uncovered PVCs (the alert's promtool cases use the same fixture)", () => {
        for (const st of ALERT_STACKS) {
            const c = alertStackConfig(st);
            const pvcs = coverageFixture(coverageRules(c));
            const snap = { ...healthy(), pvcs: pvcObjects(pvcs) };
            const failing = evaluate(c, snap, NOW)
                .filter((r) => r.kind === "pvc" && r.name !== "*")
                .map((r) => r.name);
            assert.deepStrictEqual(
                failing,
                pvcs.filter((p) => !p.covered).map((p) => `${p.namespace}/${p.name}`),
                `${st.name}: ${JSON.stringify(pvcs.map((p) => [p.namespace, p.name, p.why, coveredBy(coverageRules(c), p)]))}`,
            );
            assert.strictEqual(
                pvcs.some((p) => !p.covered),
                coverageCanFail(coverageRules(c)),
                st.name,
            );
        }
    });

    it("takes a full-cluster schedule as every namespace even with a namespace list, as Velero does", () => {
        const c = parseConfig({
            ...stackConfig("baremetal"),
            velero: {
                schedules: {
                    full: { schedule: "0 3 * * 0", ttl: "720h", includeClusterResources: true, includedNamespaces: ["rciis-prod"] },
                },
            },
        });
        const snap = {
            ...healthy(),
            veleroSchedules: [obj("velero", "full")],
            pvcs: [obj("scratch", "cache-0", { spec: { storageClassName: "ceph-rbd-single" } })],
        };
        assert.ok(evaluate(c, snap, NOW).every((r) => r.kind !== "pvc" || r.status === "OK"));
    });

    it("counts Velero coverage only on the listed snapshot StorageClasses, when listed", () => {
        const c = parseConfig({ ...stackConfig("baremetal"), velero: { snapshotStorageClasses: ["ceph-block"] } });
        const snap = healthy();
        snap.pvcs = [
            obj("rciis-prod", "data-kafka-0", { spec: { storageClassName: "ceph-block" } }),
            obj("rciis-prod", "data-zk-0", { spec: { storageClassName: "local-path" } }),
            obj("rciis-prod", "old-0", { spec: {} }, {}),
        ];
        (snap.pvcs[2].metadata as Record<string, unknown>).annotations = { "volume.beta.kubernetes.io/storage-class": "ceph-block" };
        const rows = evaluate(c, snap, NOW).filter((r) => r.kind === "pvc");
        assert.deepStrictEqual(
            rows.map((r) => [r.name, r.status]),
            [
                ["*", "FAIL"],
                ["rciis-prod/data-zk-0", "FAIL"],
            ],
        );
        assert.match(rows[1].detail, /with a snapshot StorageClass/);
    });

    it("prints an aligned table", () => {
        const text = table([
            { kind: "postgres", name: "a/b", status: "OK", detail: "fine", facts: {} },
            { kind: "pvc", name: "scratch/cache-0", status: "FAIL", detail: "unprotected", facts: {} },
        ]);
        assert.strictEqual(
            text,
            [
                "KIND      NAME             STATUS  DETAIL",
                "postgres  a/b              OK      fine",
                "pvc       scratch/cache-0  FAIL    unprotected",
            ].join("\n"),
        );
    });
});

describe("verify command line", () => {
    const parsed = (argv: string) => parseArgs(argv.split(" "));
    it("takes every flag, with table output and one check by default", () => {
        assert.deepStrictEqual(parsed("--stack aws"), {
            stack: "aws",
            output: "table",
            watchSeconds: undefined,
            configFile: undefined,
            kubeconfig: undefined,
            context: undefined,
            help: false,
        });
        assert.deepStrictEqual(
            parsed("--stack=aws --output json --watch --interval 60 --config-file c.yaml --kubeconfig kc --context prod"),
            {
                stack: "aws",
                output: "json",
                watchSeconds: 60,
                configFile: "c.yaml",
                kubeconfig: "kc",
                context: "prod",
                help: false,
            },
        );
        assert.strictEqual(parsed("--stack aws --json").output, "json");
        assert.strictEqual(parsed("--stack aws --json --output json").output, "json");
        assert.strictEqual(parsed("--stack aws -o table").output, "table");
        assert.strictEqual(parsed("--stack aws -w").watchSeconds, 30);
        assert.strictEqual(parsed("--stack aws -w --interval 5").watchSeconds, 5);
        assert.strictEqual(parsed("--stack aws -w --interval 3600").watchSeconds, 3600);
        assert.strictEqual(parsed("--help").help, true);
        assert.strictEqual(parsed("-h --stack aws").help, true);
    });

    for (const [argv, message] of [
        ["", "--stack is required"],
        ["--stack", "--stack needs a value"],
        ["--stack --json", "--stack needs a value"],
        ["--stack aws --output yaml", '--output "yaml" is not one of table, json'],
        ["--stack aws -o", "--output needs a value"],
        ["--stack aws --json --output table", "--json means --output json; it contradicts --output table"],
        ["--stack aws --json=yes", "--json takes no value"],
        ["--stack aws --watch=10", "--watch takes no value; set the period with --interval <seconds>"],
        ["--stack aws --interval 10", "--interval applies to --watch only"],
        ["--stack aws --watch --interval 4", '--interval "4" must be a whole number of seconds from 5 to 3600'],
        ["--stack aws --watch --interval 3601", '--interval "3601" must be a whole number of seconds from 5 to 3600'],
        ["--stack aws --watch --interval 7.5", '--interval "7.5" must be a whole number of seconds from 5 to 3600'],
        ["--stack aws --watch --interval soon", '--interval "soon" must be a whole number of seconds from 5 to 3600'],
        ["--stack aws --verbose", "unknown option --verbose"],
        ["--stack aws -x", "unknown option -x"],
        ["--stack aws prod", "unexpected argument prod"],
    ]) {
        it(`refuses \`${argv}\`: ${message}`, () => {
            assert.throws(() => parseArgs(argv === "" ? [] : argv.split(" ")), { message });
        });
    }
});

describe("verify exit codes", () => {
    const r = (status: Row["status"]): Row => ({ kind: "pvc", name: "x", status, detail: "", facts: {} });
    it("are the README's exit-code table, and the usage text's", () => {
        const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## Verification (`npm run verify`)"));
        const documented = [...section.slice(section.indexOf("**Exit codes.**")).matchAll(/^\| (\d+) +\|/gm)].map((m) => Number(m[1]));
        assert.deepStrictEqual(documented, Object.values(EXIT));
        assert.deepStrictEqual(
            [...USAGE.matchAll(/\b(\d+) (?:all|something|the stack|usage)/g)].map((m) => Number(m[1])),
            Object.values(EXIT),
        );
    });
    it("is 0 for OK and WARN rows, 1 as soon as one row fails", () => {
        assert.strictEqual(exitCode([r("OK"), r("OK")]), 0);
        assert.strictEqual(exitCode([r("OK"), r("WARN")]), 0);
        assert.strictEqual(exitCode([r("WARN"), r("FAIL"), r("OK")]), 1);
        assert.strictEqual(exitCode([]), 0);
    });
    it("says warnings do not fail the check", () => {
        assert.strictEqual(summary([r("OK")]), "all backups verified");
        assert.strictEqual(summary([r("OK"), r("WARN")]), "all backups verified; 1 warning(s), which do not fail the check");
        assert.strictEqual(summary([r("WARN"), r("FAIL"), r("FAIL")]), "2 problem(s) found");
    });
});

/** Serves a snapshot at the API paths `snapshot()` lists; unknown paths fail the test. */
function lister(state: { snap: Snapshot; fail?: Error }) {
    const keys: Record<string, keyof Snapshot> = {
        "postgresql.cnpg.io/clusters": "clusters",
        "postgresql.cnpg.io/scheduledbackups": "scheduledBackups",
        "postgresql.cnpg.io/backups": "backups",
        "barmancloud.cnpg.io/objectstores": "objectStores",
        "batch/cronjobs": "cronJobs",
        "/configmaps": "drillReports",
        "velero.io/backupstoragelocations": "veleroLocations",
        "velero.io/schedules": "veleroSchedules",
        "velero.io/backups": "veleroBackups",
        "/persistentvolumeclaims": "pvcs",
    };
    const calls = { list: 0, close: 0 };
    return {
        calls,
        kube: {
            list: (path: string): Promise<KubeObject[]> => {
                calls.list++;
                if (state.fail) return Promise.reject(state.fail);
                const m = /^\/(?:api|apis\/([^/]+))\/v1(?:\/namespaces\/([^/]+))?\/([a-z]+)/.exec(path);
                const key = m ? keys[`${m[1] ?? ""}/${m[3]}`] : undefined;
                if (!m || !key) throw new Error(`unexpected list ${path}`);
                return Promise.resolve((state.snap[key] ?? []).filter((o) => m[2] === undefined || o.metadata?.namespace === m[2]));
            },
            close: () => void calls.close++,
        },
    };
}

/** VerifyIo over strings, a fake clock whose sleep runs `onSleep`, and a stop signal. */
function io(kube: ReturnType<typeof lister>["kube"], onSleep: (n: number) => void = () => undefined) {
    const abort = new AbortController();
    const got = { out: "", err: "", clears: 0, sleeps: [] as number[], t: NOW, stopSignalAsked: false };
    const value: VerifyIo = {
        out: (text) => void (got.out += text),
        err: (text) => void (got.err += text),
        clear: () => void got.clears++,
        connect: () => kube,
        now: () => got.t,
        sleep: (ms) => {
            got.sleeps.push(ms);
            got.t += ms;
            onSleep(got.sleeps.length);
            return Promise.resolve();
        },
        stopSignal: () => {
            got.stopSignalAsked = true;
            return abort.signal;
        },
    };
    return { io: value, got, abort };
}

const BAREMETAL = ["--stack", "baremetal"];
const stale = () => {
    const snap = healthy();
    (snap.backups[0].status as Record<string, unknown>).stoppedAt = ago(28);
    return snap;
};
const forbidden = new KubeError(
    'GET /apis/velero.io/v1/namespaces/velero/backups: 403 backups.velero.io is forbidden: User "ci" cannot list resource "backups"',
    403,
);

describe("verify command", () => {
    it("one check, table: exit 0 on a fresh cluster, rows as evaluated", async () => {
        const k = lister({ snap: healthy() });
        const { io: i, got } = io(k.kube);
        assert.strictEqual(await verify(BAREMETAL, i), 0);
        const rows = evaluate(cfg, healthy(), NOW);
        assert.strictEqual(got.out, `${table(rows)}\n\nall backups verified\n`);
        assert.deepStrictEqual([got.err, got.clears, got.stopSignalAsked, k.calls.close], ["", 0, false, 1]);
    });

    it("one check, JSON: the same rows as the table, with the verdict and exit code", async () => {
        for (const [snap, code] of [
            [healthy(), 0],
            [stale(), 1],
        ] as const) {
            const { io: i, got } = io(lister({ snap }).kube);
            assert.strictEqual(await verify([...BAREMETAL, "--output", "json"], i), code);
            const doc = JSON.parse(got.out) as Report;
            assert.deepStrictEqual(doc, {
                stack: "baremetal",
                checkedAt: new Date(NOW).toISOString(),
                ok: code === 0,
                exitCode: code,
                rows: JSON.parse(JSON.stringify(evaluate(cfg, snap, NOW))) as Row[],
            });
        }
    });

    it("exit 0 with a warning (a first base backup still within its interval), and says so", async () => {
        const snap = healthy();
        snap.backups = snap.backups.slice(1);
        snap.scheduledBackups[0].metadata = { ...snap.scheduledBackups[0].metadata, creationTimestamp: ago(2) };
        const { io: i, got } = io(lister({ snap }).kube);
        assert.strictEqual(await verify(BAREMETAL, i), 0);
        assert.match(got.out, /^postgres\s+rciis-prod\/esb-postgres\s+WARN\s+no base backup yet/m);
        assert.match(got.out, /all backups verified; 1 warning\(s\), which do not fail the check\n$/);
    });

    it("exit 1 on a stale backup", async () => {
        const { io: i, got } = io(lister({ snap: stale() }).kube);
        assert.strictEqual(await verify(BAREMETAL, i), 1);
        assert.match(got.out, /^postgres\s+rciis-prod\/esb-postgres\s+FAIL\s+last base backup 28h ago, limit 27h$/m);
        assert.match(got.out, /1 problem\(s\) found\n$/);
    });

    it("exit 2 with one line naming the API path and status when a list is refused; JSON says so too", async () => {
        for (const output of ["table", "json"]) {
            const k = lister({ snap: healthy(), fail: forbidden });
            const { io: i, got } = io(k.kube);
            assert.strictEqual(await verify([...BAREMETAL, "-o", output], i), 2);
            assert.strictEqual(got.err, `error: could not read the cluster: ${forbidden.message}\n`);
            assert.strictEqual(k.calls.close, 1);
            if (output === "table") assert.strictEqual(got.out, "");
            else assert.deepStrictEqual(JSON.parse(got.out), { ...report0(), error: `could not read the cluster: ${forbidden.message}` });
        }
    });

    it("exit 2 when the kubeconfig or its context cannot be used, before any request", async () => {
        const { io: i, got } = io(lister({ snap: healthy() }).kube);
        i.connect = () => {
            throw new KubeError("context prod not found in /home/ops/.kube/config");
        };
        assert.strictEqual(await verify([...BAREMETAL, "--watch"], i), 2);
        assert.strictEqual(got.err, "error: could not read the cluster: context prod not found in /home/ops/.kube/config\n");
        assert.strictEqual(got.stopSignalAsked, false, "a bad kubeconfig does not start a watch");
    });

    it("exit 2 when the stack config cannot be read; exit 64 with the usage on a bad command line", async () => {
        const k = lister({ snap: healthy() });
        const missing = io(k.kube);
        assert.strictEqual(await verify([...BAREMETAL, "--config-file", "/nonexistent/Pulumi.x.yaml"], missing.io), 2);
        assert.match(missing.got.err, /^error: .*\/nonexistent\/Pulumi\.x\.yaml/);
        const usage = io(k.kube);
        assert.strictEqual(await verify([...BAREMETAL, "--output", "yaml"], usage.io), 64);
        assert.match(usage.got.err, /^--output "yaml" is not one of table, json\nusage: npm run verify/);
        assert.strictEqual(k.calls.list, 0);
        const help = io(k.kube);
        assert.strictEqual(await verify(["--help"], help.io), 0);
        assert.match(help.got.out, /^usage: npm run verify[\s\S]*exit: 0 all fresh/);
    });

    it("--watch --output json: one document per line per refresh; a failed read is a document and the watch goes on", async () => {
        const state: { snap: Snapshot; fail?: Error } = { snap: healthy() };
        const k = lister(state);
        // Refresh 1 fresh, 2 refused, 3 stale; stopped (Ctrl-C) during the third wait.
        const {
            io: i,
            got,
            abort,
        } = io(k.kube, (n) => {
            if (n === 1) state.fail = forbidden;
            if (n === 2) [state.fail, state.snap] = [undefined, stale()];
            if (n === 3) abort.abort();
        });
        assert.strictEqual(await verify([...BAREMETAL, "--json", "--watch", "--interval", "10"], i), 1, "the last refresh's code");
        const docs = got.out
            .trimEnd()
            .split("\n")
            .map((line) => JSON.parse(line) as Report);
        assert.deepStrictEqual(
            docs.map((d) => [d.checkedAt, d.exitCode, d.ok, d.rows.length > 0, d.error]),
            [
                [new Date(NOW).toISOString(), 0, true, true, undefined],
                [new Date(NOW + 10_000).toISOString(), 2, false, false, `could not read the cluster: ${forbidden.message}`],
                [new Date(NOW + 20_000).toISOString(), 1, false, true, undefined],
            ],
        );
        assert.strictEqual(got.err, `error: could not read the cluster: ${forbidden.message}\n`);
        assert.deepStrictEqual([got.sleeps, got.clears, k.calls.close], [[10_000, 10_000, 10_000], 0, 1]);
    });

    it("--watch, table: clears and redraws under a header with the check time and the next refresh", async () => {
        const { io: i, got, abort } = io(lister({ snap: healthy() }).kube, (n) => n === 2 && abort.abort());
        assert.strictEqual(await verify([...BAREMETAL, "-w"], i), 0);
        const stamp = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");
        const screen = (t: number) =>
            `verify --stack baremetal, every 30 s: checked ${stamp(t)}, next ${stamp(t + 30_000)} (Ctrl-C stops)\n\n` +
            `${table(evaluate(cfg, healthy(), t))}\n\nall backups verified\n\n`;
        assert.strictEqual(got.clears, 2);
        assert.strictEqual(got.out, screen(NOW) + screen(NOW + 30_000));
    });

    it("--watch stopped before the first refresh finished: exit 2 (no verdict)", async () => {
        const { io: i, got, abort } = io({ list: () => new Promise<KubeObject[]>(() => undefined), close: () => undefined });
        const stopped = verify([...BAREMETAL, "-w"], i);
        setImmediate(() => abort.abort());
        assert.strictEqual(await stopped, 2);
        assert.strictEqual(got.out, "");
    });
});

function report0() {
    return { stack: "baremetal", checkedAt: new Date(NOW).toISOString(), ok: false, exitCode: 2, rows: [] };
}
