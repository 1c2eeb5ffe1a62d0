import * as assert from "assert";
import { parseConfig } from "../config";
import { evaluate, OPT_OUT, type Row, type Snapshot } from "../scripts/checks";
import { type KubeObject } from "../scripts/kube";
import { table } from "../scripts/verify";
import { coverageCanFail, coveredBy, coverageRules } from "../components/coverage";
import { ALERT_STACKS, alertStackConfig } from "./alert-stacks";
import { coverageFixture, pvcObjects } from "./coverage-fixture";
import { stackConfig } from "./harness";

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
        pvcs: [obj("rciis-prod", "data-kafka-0"), obj("rciis-prod", "esb-postgres-1", {}, { "cnpg.io/cluster": "esb-postgres" })],
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
        snap.pvcs.push(obj("scratch", "cache-0"));
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
        const snap = { ...healthy(), veleroSchedules: [obj("velero", "full")], pvcs: [obj("scratch", "cache-0")] };
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
