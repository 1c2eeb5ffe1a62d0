import * as assert from "assert";
import { alertRules, KSM_ALLOWLISTS, RUNBOOK_ANCHORS, type AlertName, type AlertRule } from "../components/alerts";
import { alertCases, CASES, expand, INTERVAL, promtoolFiles } from "./alert-cases";
import { ALERT_STACKS, alertStackConfig, alertsArgsFor } from "./alert-stacks";
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
            "PersistentVolumeClaimNotBackedUp",
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
        // Without Velero schedules (ha: false) nothing backs up plain PVCs: the coverage rule stays.
        assert.deepStrictEqual([...new Set(rules(bare).map((x) => x.alert))].sort(), [
            "PersistentVolumeClaimNotBackedUp",
            "VeleroBackupFailed",
            "VeleroBackupStorageLocationUnavailable",
        ]);
        const off = await render("baremetal", (raw) => (raw.alerts = { enabled: false }));
        assert.strictEqual(off.all(RULE).length, 0);
    });

    it("ships the kube-state-metrics config its storage-location and coverage rules read", () => {
        const cm = bm.get("kubernetes:core/v1:ConfigMap", "backup-alerts-ksm-velero").inputs;
        const data = cm.data as Record<string, string>;
        assert.strictEqual(data["metric-labels-allowlist"], "persistentvolumeclaims=[cnpg.io/cluster]");
        assert.strictEqual(data["metric-annotations-allowlist"], "persistentvolumeclaims=[backup.platform/exclude]");
        assert.deepStrictEqual(data.args.split("\n"), [
            `--metric-labels-allowlist=${KSM_ALLOWLISTS.labels}`,
            `--metric-annotations-allowlist=${KSM_ALLOWLISTS.annotations}`,
        ]);
        const config = JSON.parse((cm.data as Record<string, string>)["velero-crs.json"]) as { spec: { resources: Obj[] } };
        const [res] = config.spec.resources;
        assert.deepStrictEqual(res.groupVersionKind, { group: "velero.io", version: "v1", kind: "BackupStorageLocation" });
        assert.strictEqual(res.metricNamePrefix, "velero");
        const [metric] = res.metrics as { name: string }[];
        assert.strictEqual(metric.name, "backup_storage_location_phase");
        assert.ok(byName(bm, "VeleroBackupStorageLocationUnavailable")[0].expr.startsWith("velero_backup_storage_location_phase{"));
    });

    it("watches PVCs by verify's coverage rules, from the allow-listed kube-state-metrics labels", async () => {
        // Both example stacks keep weekly-full, which backs up every namespace, and list their snapshot class: the rule
        // watches the class only. Without the class list nothing could be uncovered, and there is no rule.
        const on0 = "unless on (namespace, persistentvolumeclaim)";
        for (const [r0, cls] of [
            [bm, "ceph-rbd-single"],
            [aws, "gp3"],
        ] as const) {
            const [only] = byName(r0, "PersistentVolumeClaimNotBackedUp");
            assert.ok(only.expr.includes(`${on0} kube_persistentvolumeclaim_info{storageclass=~"${cls}"}`), only.expr);
        }
        const noClasses = await render("baremetal", (raw) => {
            delete (raw.velero as Raw).snapshotStorageClasses;
        });
        assert.strictEqual(byName(noClasses, "PersistentVolumeClaimNotBackedUp").length, 0);
        const r = await render("baremetal", (raw) =>
            Object.assign(raw, {
                velero: {
                    schedules: { daily: { schedule: "0 2 * * *", ttl: "720h", includedNamespaces: ["rciis-prod", "monitoring"] } },
                    snapshotStorageClasses: ["ceph-block"],
                },
                drills: { enabled: true },
            }),
        );
        const [rule] = byName(r, "PersistentVolumeClaimNotBackedUp");
        const on = "unless on (namespace, persistentvolumeclaim)";
        assert.strictEqual(
            rule.expr,
            "max by (namespace, persistentvolumeclaim, storageclass) (kube_persistentvolumeclaim_info" +
                ` ${on} kube_persistentvolumeclaim_info{namespace=~"monitoring|rciis-prod",storageclass=~"ceph-block"}` +
                ` ${on} kube_persistentvolumeclaim_labels{namespace="keycloak",label_cnpg_io_cluster=~"keycloak-pg|keycloak-pg-drill"}` +
                ` ${on} kube_persistentvolumeclaim_labels{namespace="monitoring",label_cnpg_io_cluster=~"grafana-postgres|grafana-postgres-drill"}` +
                ` ${on} kube_persistentvolumeclaim_labels{namespace="rciis-prod",label_cnpg_io_cluster=~"esb-postgres|esb-postgres-drill|ss-postgres|ss-postgres-drill"}` +
                ` ${on} kube_persistentvolumeclaim_info{namespace="rciis-prod",persistentvolumeclaim=~".*-mssql-[0-9]+"}` +
                ` ${on} kube_persistentvolumeclaim_annotations{annotation_backup_platform_exclude!=""})`,
        );
        assert.strictEqual(rule.labels.severity, "warning");
        // A full-cluster schedule with listed classes: no namespace matcher, only the classes.
        const classes = await render("aws", (raw) =>
            Object.assign(raw, { velero: { ...(raw.velero as Raw), snapshotStorageClasses: ["gp3"] } }),
        );
        assert.ok(
            byName(classes, "PersistentVolumeClaimNotBackedUp")[0].expr.includes(
                `${on} kube_persistentvolumeclaim_info{storageclass=~"gp3"}`,
            ),
        );
    });

    it("links every rule of every stack to a README section that exists", () => {
        const anchors = readmeAnchors();
        const every = ALERT_STACKS.flatMap((st) => alertRules(alertsArgsFor(alertStackConfig(st))));
        assert.deepStrictEqual(new Set(every.map((r) => r.alert)), new Set(Object.keys(RUNBOOK_ANCHORS)), "the stacks render every alert");
        for (const rule of [...rules(bm), ...every]) {
            assert.strictEqual(rule.annotations.runbook_url, `README.md#${RUNBOOK_ANCHORS[rule.alert]}`);
            assert.ok(anchors.has(RUNBOOK_ANCHORS[rule.alert]), `README has no section #${RUNBOOK_ANCHORS[rule.alert]}`);
            assert.ok(rule.annotations.summary.length > 0 && rule.annotations.description.length > 0);
        }
    });
});

describe("generated promtool cases", () => {
    const stacks = ALERT_STACKS.map((st) => ({ st, cfg: alertStackConfig(st) }));

    it("are generated for the rules the program renders: the stacks' args render exactly the program's rules", async () => {
        for (const { st, cfg } of stacks) {
            const r = await render(st.stack, st.edit);
            assert.deepStrictEqual(alertRules(alertsArgsFor(cfg)), rules(r), st.name);
        }
    });

    it("exist for every rule of every stack, each with a quiet and a firing case", () => {
        for (const { st, cfg } of stacks) {
            for (const { spec, cases } of alertCases(alertsArgsFor(cfg))) {
                const what = `${st.name}: ${spec.rule.alert} (${spec.rule.annotations.summary})`;
                assert.ok(Object.hasOwn(CASES, spec.rule.alert), `${what} has no cases`);
                assert.ok(
                    cases.some((c) => c.firing.length > 0),
                    `${what} has no firing case`,
                );
                assert.ok(
                    cases.some((c) => c.firing.length === 0),
                    `${what} has no quiet case`,
                );
                for (const c of cases) assert.strictEqual(c.alert, spec.rule.alert);
            }
        }
    });

    it("put schedule thresholds at 'pending' (for) and 'firing' (for + one interval) after age = threshold", () => {
        const args = alertsArgsFor(stacks[0].cfg);
        const daily = alertCases(args).find((x) => x.spec.rule.alert === "VeleroBackupNotRunning" && x.spec.rule.expr.includes("daily"));
        assert.ok(daily);
        const [quiet, firing] = daily.cases;
        const limit = 27 * 3600;
        // The last success at -limit: age = limit at t=0, so > limit from the first evaluation after.
        assert.strictEqual(quiet.input[0].values, `${-limit}x${Math.ceil((600 + INTERVAL) / INTERVAL) + 2}`);
        assert.deepStrictEqual([quiet.evalAt, quiet.firing], [600, []]);
        assert.strictEqual(firing.evalAt, 600 + INTERVAL);
        assert.deepStrictEqual(
            firing.firing.map((l) => [l.schedule, l.severity]),
            [["daily-namespaces", "warning"]],
        );
    });

    it("expand the annotation templates the rules use, and refuse others", () => {
        assert.strictEqual(
            expand("PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }}", { namespace: "a", persistentvolumeclaim: "b" }),
            "PVC a/b",
        );
        assert.throws(() => expand("{{ $value }}", {}), /unsupported template/);
    });

    it("write one rule file and one test per case, every alert named", () => {
        const files = promtoolFiles(alertsArgsFor(stacks[2].cfg));
        const names: AlertName[] = [...new Set(alertRules(alertsArgsFor(stacks[2].cfg)).map((r) => r.alert))];
        assert.strictEqual(files.alerts, names.length);
        assert.strictEqual((files.tests.match(/^ {2}- name: /gm) ?? []).length, files.cases);
        assert.ok(files.tests.startsWith("rule_files:\n  - rules.yaml\nevaluation_interval: 60s\n"), files.tests.slice(0, 80));
        for (const n of names) assert.ok(files.rules.includes(`alert: ${n}\n`), n);
    });
});
