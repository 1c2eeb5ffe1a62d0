import * as assert from "assert";
import { RUNBOOK_ANCHORS, type AlertRule } from "../components/alerts";
import { crdValidator, owned, readmeAnchors, render, type Raw, type Rendered } from "./harness";

type Obj = Record<string, unknown>;
const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const validate = crdValidator("prometheus-operator-0.82.2_monitoring.coreos.com_prometheusrules.yaml");

const rules = (r: Rendered): AlertRule[] =>
    (r.get(RULE, "backup-alerts-rules").inputs.spec as { groups: { rules: AlertRule[] }[] }).groups[0].rules;
const byName = (r: Rendered, alert: string) => rules(r).filter((x) => x.alert === alert);

describe("backup alerts", () => {
    let bm: Rendered;
    let aws: Rendered;
    before(async () => {
        bm = await render("baremetal");
        aws = await render("aws");
    });

    it("emits one PrometheusRule in monitoring for release prometheus, valid against the operator's CRD", () => {
        for (const [stack, r] of [
            ["baremetal", bm],
            ["aws", aws],
        ] as const) {
            const pr = r.get(RULE, "backup-alerts-rules").inputs;
            assert.deepStrictEqual(pr.metadata, {
                name: "backup-alerts",
                namespace: "monitoring",
                labels: { release: "prometheus" },
                annotations: owned(stack),
            });
            assert.ok(validate(pr), JSON.stringify(validate.errors));
        }
    });

    it("has the seeds' four alerts and what they miss", () => {
        const names = [...new Set(rules(bm).map((x) => x.alert))].sort();
        assert.deepStrictEqual(names, [
            "CNPGBackupStale",
            "CNPGBaseBackupTooOld",
            "CNPGWALArchivingFailed",
            "MSSQLBackupMissing",
            "VeleroBackupFailed",
            "VeleroBackupNotRunning",
            "VeleroBackupStorageLocationUnavailable",
        ]);
    });

    it("derives Velero staleness from each schedule: daily 27h, weekly 7d + 3h", () => {
        const exprs = byName(bm, "VeleroBackupNotRunning").map((x) => x.expr);
        assert.deepStrictEqual(exprs, [
            `time() - velero_backup_last_successful_timestamp{schedule="daily-namespaces"} > ${24 * 3600 + 3 * 3600}`,
            `time() - velero_backup_last_successful_timestamp{schedule="weekly-full"} > ${7 * 24 * 3600 + 3 * 3600}`,
        ]);
    });

    it("watches base-backup age with the metric of the configured method, threshold from the CNPG schedule", async () => {
        const [plugin] = byName(bm, "CNPGBaseBackupTooOld");
        assert.ok(plugin.expr.includes("barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"), plugin.expr);
        assert.ok(plugin.expr.includes(`> ${27 * 3600}, "cluster"`), plugin.expr);
        assert.ok(
            plugin.expr.includes(
                `{namespace=~"keycloak|monitoring|rciis-prod",pod=~"(esb-postgres|grafana-postgres|keycloak-pg|ss-postgres)-[0-9]+"}`,
            ),
            plugin.expr,
        );
        const weekly = await render("baremetal", (raw) => (raw.cnpg = { method: "barmanObjectStore", schedule: "0 0 2 * * 0" }));
        const [inTree] = byName(weekly, "CNPGBaseBackupTooOld");
        assert.ok(inTree.expr.includes("cnpg_collector_last_available_backup_timestamp"), inTree.expr);
        assert.ok(!inTree.expr.includes("barman_cloud"), inTree.expr);
        assert.ok(inTree.expr.includes(`> ${7 * 24 * 3600 + 3 * 3600}, "cluster"`), inTree.expr);
    });

    it("flags WAL archiving only while the last failure is newer than the last success", () => {
        const [wal] = byName(bm, "CNPGWALArchivingFailed");
        assert.match(wal.expr, /cnpg_pg_stat_archiver_last_failed_time\{.*\} > cnpg_pg_stat_archiver_last_archived_time\{/);
        assert.strictEqual(wal.labels.severity, "critical");
    });

    it("watches each SQL Server CronJob by its own schedule, including one that never succeeded", async () => {
        const [job] = byName(aws, "MSSQLBackupMissing");
        assert.ok(
            job.expr.includes(
                `kube_cronjob_status_last_successful_time{namespace="rciis-prod",cronjob="rciis-mssql-backup"}) > ${27 * 3600}`,
            ),
            job.expr,
        );
        assert.ok(job.expr.includes("absent(kube_cronjob_status_last_successful_time"), job.expr);
        const r = await render("aws", (raw) => Object.assign((raw.mssql as Raw[])[0], { schedule: "0 3 * * 0" }));
        assert.ok(byName(r, "MSSQLBackupMissing")[0].expr.includes(`> ${7 * 24 * 3600 + 3 * 3600}`));
    });

    it("follows the grace setting", async () => {
        const r = await render("baremetal", (raw) => (raw.alerts = { graceHours: 1 }));
        assert.ok(byName(r, "VeleroBackupNotRunning")[0].expr.endsWith(`> ${25 * 3600}`));
    });

    it("emits no rules for what is not deployed", async () => {
        const bare = await render("baremetal", (raw) => Object.assign(raw, { ha: false, postgres: [], mssql: [] }));
        assert.deepStrictEqual([...new Set(rules(bare).map((x) => x.alert))].sort(), [
            "VeleroBackupFailed",
            "VeleroBackupStorageLocationUnavailable",
        ]);
        const off = await render("baremetal", (raw) => (raw.alerts = { enabled: false }));
        assert.strictEqual(off.all(RULE).length, 0);
    });

    it("ships the kube-state-metrics config its storage-location rule reads", () => {
        const cm = bm.get("kubernetes:core/v1:ConfigMap", "backup-alerts-ksm-velero").inputs;
        const config = JSON.parse((cm.data as Record<string, string>)["velero-crs.json"]) as { spec: { resources: Obj[] } };
        const [res] = config.spec.resources;
        assert.deepStrictEqual(res.groupVersionKind, { group: "velero.io", version: "v1", kind: "BackupStorageLocation" });
        assert.strictEqual(res.metricNamePrefix, "velero");
        const [metric] = res.metrics as { name: string }[];
        assert.strictEqual(metric.name, "backup_storage_location_phase");
        assert.ok(byName(bm, "VeleroBackupStorageLocationUnavailable")[0].expr.startsWith("velero_backup_storage_location_phase{"));
    });

    it("links every rule to a README section that exists", () => {
        const anchors = readmeAnchors();
        for (const rule of rules(bm)) {
            assert.strictEqual(rule.annotations.runbook_url, `README.md#${RUNBOOK_ANCHORS[rule.alert]}`);
            assert.ok(anchors.has(RUNBOOK_ANCHORS[rule.alert]), `README has no section #${RUNBOOK_ANCHORS[rule.alert]}`);
            assert.ok(rule.annotations.summary.length > 0 && rule.annotations.description.length > 0);
        }
    });
});
