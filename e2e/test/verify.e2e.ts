// `npm run verify` against the real local API server: the test plays the operators by seeding the
// objects and the status they would write (fresh, stale, failed, unprotected PVC), then checks the
// table, the JSON and the exit code.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { apiPath, type Kube, type KubeObject } from "../../scripts/kube";
import { readStackConfig, stackFile } from "../../scripts/stackfile";
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

interface Verdict {
    code: number;
    stdout: string;
    json: { ok: boolean; rows: { kind: string; name: string; status: string; detail: string }[] };
}

describe("npm run verify against a local API server", function () {
    this.timeout(10 * 60_000);
    let k: Kube;
    let configFile: string;

    const verify = (): Verdict => {
        const args = [
            path.join(ROOT, "bin", "scripts", "verify.js"),
            "--stack",
            "baremetal",
            "--config-file",
            configFile,
            "--kubeconfig",
            shared.kubeconfig,
        ];
        const table = spawnSync(process.execPath, args, { encoding: "utf8" });
        const json = spawnSync(process.execPath, [...args, "--json"], { encoding: "utf8" });
        assert.strictEqual(table.status, json.status, "table and JSON agree on the exit code");
        return { code: table.status ?? -1, stdout: table.stdout, json: JSON.parse(json.stdout) as Verdict["json"] };
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
        configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "verify-e2e-")), "Pulumi.baremetal.yaml");
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

    after(() => k?.close());

    it("reports a fresh cluster as verified, exit 0", () => {
        const v = verify();
        assert.strictEqual(v.code, 0, v.stdout);
        assert.strictEqual(v.json.ok, true);
        assert.match(v.stdout, /^KIND\s+NAME\s+STATUS\s+DETAIL$/m);
        assert.match(v.stdout, /^postgres\s+rciis-prod\/esb-postgres\s+OK\s+last base backup 6h ago/m);
        assert.match(v.stdout, /all backups verified/);
        assert.strictEqual(row(v, "pvc", "*").detail, "3 of 3 PersistentVolumeClaims covered");
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
