// Backup alerts as one PrometheusRule. Thresholds derive from the configured schedules; rules for
// components that are not deployed are not emitted; every rule links its README runbook.
// The rules are built in specs.ts, by subject; the selectors they share with the dashboard are in selectors.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { owned } from "../../core/ownership";
import { KSM_ALLOWLISTS, ksmVeleroConfig } from "./ksm";
import { alertRules } from "./specs";
import { type AlertsArgs } from "./types";
import { PART_OF } from "../../core/names";

export { uncoveredPvcsExpr } from "./coverage";
export { KSM_ALLOWLISTS, KSM_CNPG_CLUSTER, KSM_OPT_OUT, ksmVeleroConfig } from "./ksm";
export {
    cnpgBackupMetrics,
    cnpgPodSelector,
    cnpgSelector,
    cronJobSelector,
    cronJobsSelector,
    namespacesRegex,
    veleroScheduleSelector,
} from "./selectors";
export { alertRules, alertSpecs, WAL_STALE_SECONDS } from "./specs";
export { RUNBOOK_ANCHORS, type AlertName, type AlertRule, type AlertsArgs, type AlertSpec, type AlertSubject } from "./types";

/** The PrometheusRule, and the kube-state-metrics configuration its storage-location and coverage rules need. */
export class BackupAlerts extends pulumi.ComponentResource {
    /** Names of the alerts emitted. */
    public readonly alerts: string[];

    constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:BackupAlerts", name, {}, opts);
        const rules = alertRules(args);
        new k8s.apiextensions.CustomResource(
            `${name}-rules`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: owned({ name: "backup-alerts", namespace: args.namespace, labels: { ...args.labels } }),
                spec: { groups: [{ name: "backup.rules", rules }] },
            },
            { parent: this },
        );
        new k8s.core.v1.ConfigMap(
            `${name}-ksm-velero`,
            {
                metadata: owned({
                    name: "backup-platform-ksm-velero",
                    namespace: args.namespace,
                    labels: PART_OF,
                }),
                data: {
                    "velero-crs.json": ksmVeleroConfig(),
                    "metric-labels-allowlist": KSM_ALLOWLISTS.labels,
                    "metric-annotations-allowlist": KSM_ALLOWLISTS.annotations,
                    args: [
                        `--metric-labels-allowlist=${KSM_ALLOWLISTS.labels}`,
                        `--metric-annotations-allowlist=${KSM_ALLOWLISTS.annotations}`,
                    ].join("\n"),
                },
            },
            { parent: this },
        );
        this.alerts = [...new Set(rules.map((r) => r.alert))];
        this.registerOutputs({ alerts: this.alerts });
    }
}
