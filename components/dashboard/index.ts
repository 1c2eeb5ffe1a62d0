// The backup dashboard: one Grafana dashboard, built with Grafana's foundation SDK (typed builders, not hand-written
// JSON), shipped as a ConfigMap for the Grafana sidecar of kube-prometheus-stack. It is drawn from the alerts' own
// inputs (AlertsArgs) and their selectors, metrics and maxAgeSeconds, so a panel turns red where its alert fires.
// Its rows, one group per subject, are in rows.ts; the panels they are made of in panels.ts; the variables Grafana
// repeats the per-database rows over in repeat.ts, so its size does not grow with the fleet.
//
// The SDK's v1 DashboardBuilder is marked deprecated in favour of dashboardv2, but the sidecar provisions dashboard
// files, which Grafana reads in the v1 JSON model only.
import * as grafana from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type AlertsArgs } from "../alerts";
import { owned } from "../../core/ownership";
import { cnpgRows, coverageRow, cronJobRows, veleroRow, type Layout } from "./rows";
import { PART_OF } from "../../core/names";

export { PITR_RUNBOOK } from "./rows";

/** Name of the ConfigMap and of its one key's file. */
export const DASHBOARD_CONFIGMAP = "backup-platform-dashboard";

export interface DashboardArgs {
    /** What the alerts watch and their thresholds; the dashboard follows them even when the PrometheusRule is off. */
    readonly alerts: AlertsArgs;
    /** Namespace of the ConfigMap; the Grafana sidecar must watch it. */
    readonly namespace: string;
    /** Labels the sidecar selects dashboards by; kube-prometheus-stack's default is { grafana_dashboard: "1" }. */
    readonly labels: Readonly<Record<string, string>>;
    /** Grafana folder, as the annotation the sidecar's folderAnnotation names. Default none (the sidecar's folder). */
    readonly folder?: { readonly annotation: string; readonly name: string };
    /** Dashboard uid, stable across runs and unique in the Grafana. */
    readonly uid: string;
}

/** The dashboard for `args` (pure, for tests): rows of stat panels, red/green by the alerts' thresholds. */
export function backupDashboard(args: AlertsArgs, uid: string): grafana.Dashboard {
    const d = new grafana.DashboardBuilder("Backups")
        .uid(uid)
        .description(
            "Every backup path of the backup platform, red where its alert fires. Built by the Pulumi program: edits are overwritten.",
        )
        .tags(["backup-platform"])
        .readonly()
        .timezone("utc")
        .time({ from: "now-24h", to: "now" })
        .refresh("1m")
        .withVariable(new grafana.DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"));
    // Grafana keys panels by id: number rows and panels in order.
    let id = 0;
    const layout: Layout = {
        row: (title, repeat) => {
            const row = new grafana.RowBuilder(title).id(++id);
            d.withRow(repeat === undefined ? row : row.repeat(repeat));
        },
        panel: (p) => {
            d.withPanel(p.id(++id));
        },
        variable: (v) => {
            d.withVariable(v);
        },
    };
    coverageRow(args, layout);
    veleroRow(args, layout);
    cnpgRows(args, layout);
    cronJobRows(args, layout);
    return d.build();
}

/**
 * Every PromQL expression of a dashboard's panels, in panel order (rows' collapsed panels included), as written: those
 * of a repeated row hold its variables, which Grafana fills in per row.
 */
export function dashboardQueries(model: grafana.Dashboard): string[] {
    const panels = (model.panels ?? []).flatMap((p) => ("panels" in p && Array.isArray(p.panels) ? [p, ...p.panels] : [p]));
    return panels.flatMap((p) =>
        "targets" in p && Array.isArray(p.targets)
            ? p.targets.map((t) => (t as prometheus.Dataquery).expr).filter((e) => e !== undefined)
            : [],
    );
}

/** What a ConfigMap may hold: the API server refuses more (etcd's object limit). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/**
 * The dashboard's JSON, refused when it cannot fit a ConfigMap, which would otherwise fail at `pulumi up` with the API
 * server's "Request entity too large", after the rest of the stack was applied. A PostgreSQL cluster adds about 100
 * bytes (150 with drills: its names in the repeated rows' variables and in the coverage panel's expression); a SQL
 * Server database still adds a row of its own, about 2.8 KB, so some 360 of them fill it (README "Dashboard").
 */
export function dashboardJson(args: DashboardArgs): string {
    const json = JSON.stringify(backupDashboard(args.alerts, args.uid));
    const bytes = Buffer.byteLength(json);
    if (bytes > CONFIGMAP_MAX_BYTES) {
        const clusters = args.alerts.cnpg?.clusters.length ?? 0;
        throw new pulumi.RunError(
            `backup:dashboard.enabled: the dashboard for ${clusters} PostgreSQL clusters and ${args.alerts.mssqlJobs.length} SQL Server ` +
                `databases is ${(bytes / 1024).toFixed(0)} KiB, over a ConfigMap's 1024 KiB; set backup:dashboard.enabled to false ` +
                `for this fleet (the alerts still watch every database)`,
        );
    }
    return json;
}

/** The dashboard as one ConfigMap the Grafana sidecar loads. */
export class BackupDashboard extends pulumi.ComponentResource {
    /** namespace/name of the ConfigMap. */
    public readonly configMap: string;

    constructor(name: string, args: DashboardArgs, opts?: pulumi.ComponentResourceOptions) {
        // Before anything of the component is registered: a dashboard too large to ship stops here.
        const json = dashboardJson(args);
        super("backup:components:BackupDashboard", name, {}, opts);
        new k8s.core.v1.ConfigMap(
            `${name}-configmap`,
            {
                metadata: owned({
                    name: DASHBOARD_CONFIGMAP,
                    namespace: args.namespace,
                    labels: { ...PART_OF, ...args.labels },
                    ...(args.folder ? { annotations: { [args.folder.annotation]: args.folder.name } } : {}),
                }),
                data: { [`${DASHBOARD_CONFIGMAP}.json`]: json },
            },
            { parent: this },
        );
        this.configMap = `${args.namespace}/${DASHBOARD_CONFIGMAP}`;
        this.registerOutputs({ configMap: this.configMap });
    }
}
