// backup:alerts and backup:dashboard.
import { z } from "zod";
import { labelKey, labelValue } from "./cluster";
import { namespaceName } from "./formats";

export const alerts = z
    .strictObject({
        /** Emit the PrometheusRule (and the kube-state-metrics config its storage-location rule reads). Default true. */
        enabled: z.boolean().default(true),
        /** Namespace of the PrometheusRule. Default monitoring. */
        namespace: namespaceName.default("monitoring"),
        /** Labels the Prometheus operator selects rules by. Default { release: prometheus } (seed). */
        labels: z.record(labelKey, labelValue).default({ release: "prometheus" }),
        /** Where runbook links point: this README's URL in your repository. Default README.md. */
        runbookBaseUrl: z.string().min(1).default("README.md"),
        /** Hours a backup may run late beyond its schedule interval before alerts and verify flag it. Default 3. */
        graceHours: z.number().min(0).max(168).default(3),
    })
    .prefault({});

export const dashboard = z
    .strictObject({
        /** Ship the Grafana dashboard ConfigMap. Default true. */
        enabled: z.boolean().default(true),
        /** Namespace of the ConfigMap; the Grafana sidecar must watch it. Default: alerts.namespace. */
        namespace: namespaceName.optional(),
        /** Labels the Grafana sidecar selects dashboards by. Default { grafana_dashboard: "1" } (kube-prometheus-stack's). */
        labels: z
            .record(labelKey, labelValue)
            .default({ grafana_dashboard: "1" })
            .refine((l) => Object.keys(l).length > 0, "give at least one label: the Grafana sidecar selects dashboards by label"),
        /** Grafana folder, set as the annotation `folderAnnotation` (the sidecar turns it into a directory). Default none. */
        folder: z
            .string()
            .regex(
                /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/,
                "a folder must be 1-63 letters, digits, spaces, '_', '.' and '-', starting with a letter or digit (the sidecar makes it a directory name)",
            )
            .optional(),
        /** Annotation the sidecar reads the folder from (its folderAnnotation). Default grafana_folder. */
        folderAnnotation: labelKey.default("grafana_folder"),
        /** Dashboard uid: stable, unique in the Grafana (two clusters sharing one need two). Default backup-platform. */
        uid: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,40}$/, "a dashboard uid must be 1-40 letters, digits, '_' and '-' (Grafana's limit)")
            .default("backup-platform"),
    })
    .prefault({});
