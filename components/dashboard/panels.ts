// The dashboard's panels: stat panels red from their alert's threshold, linked to their runbooks.
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as grafana from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import { cronJobSelector, RUNBOOK_ANCHORS, type AlertName, type AlertsArgs } from "../alerts";
import { maxAgeSeconds } from "../../core/schedule";
import { type ScheduledJob } from "../../core/jobs";

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
const HEIGHT = 4;

/** A README section a panel links to. */
export interface Runbook {
    readonly title: string;
    readonly anchor: string;
}

/** The runbook of an alert. */
export const alertRunbook = (alert: AlertName): Runbook => ({ title: `Runbook: ${alert}`, anchor: RUNBOOK_ANCHORS[alert] });

function links(base: string, runbooks: readonly Runbook[]): cog.Builder<grafana.DashboardLink>[] {
    return runbooks.map((r) =>
        new grafana.DashboardLinkBuilder(r.title).type(grafana.DashboardLinkType.Link).url(`${base}#${r.anchor}`).targetBlank(true),
    );
}

const instant = (expr: string) => new prometheus.DataqueryBuilder().expr(expr).instant().refId("A").datasource(DATASOURCE);

/** Green below `red`, red from it on; `red` undefined: one neutral colour. */
function thresholds(red: number | undefined, base = "green"): cog.Builder<grafana.ThresholdsConfig> {
    const steps: grafana.Threshold[] = [{ value: null, color: red === undefined ? "blue" : base }];
    if (red !== undefined) steps.push({ value: red, color: "red" });
    return new grafana.ThresholdsConfigBuilder().mode(grafana.ThresholdsMode.Absolute).steps(steps);
}

/** What a stat panel shows and how it is coloured. */
export interface StatSpec {
    title: string;
    description: string;
    expr: string;
    unit: string;
    /** Value from which the panel is red (what its alert compares with); none: neutral. */
    red?: number;
    /** README sections linked from the panel. */
    runbooks: readonly Runbook[];
    width: number;
    mappings?: grafana.ValueMapping[];
}

/** A stat panel for `s`, its runbook links under `base`. */
export function statPanel(base: string, s: StatSpec): stat.PanelBuilder {
    const p = new stat.PanelBuilder()
        .title(s.title)
        .description(s.description)
        .datasource(DATASOURCE)
        .withTarget(instant(s.expr))
        .unit(s.unit)
        .thresholds(thresholds(s.red))
        .colorMode(s.red === undefined ? common.BigValueColorMode.Value : common.BigValueColorMode.Background)
        .graphMode(common.BigValueGraphMode.None)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
        .noValue("no data")
        .links(links(base, s.runbooks))
        .height(HEIGHT)
        .span(s.width);
    return s.mappings ? p.mappings(s.mappings) : p;
}

/** Value mappings: 0 reads OK, 1 or more reads `bad`. */
export const okWhenZero = (bad: string): grafana.ValueMapping[] => [
    { type: grafana.MappingType.ValueToText, options: { "0": { text: "OK" } } },
    { type: grafana.MappingType.RangeToText, options: { from: 1, to: null, result: { text: bad } } },
];

/** A CronJob path as its panels show it. */
export interface CronJobPath {
    /** Five-field cron: the threshold is its longest interval plus the grace. */
    readonly schedule: string;
    /** kube-state-metrics' series of the CronJob. */
    readonly selector: string;
    /** How descriptions name the CronJob. */
    readonly called: string;
}

/** A CronJob of the alerts' args, selected exactly. */
export const cronJobPath = (job: ScheduledJob): CronJobPath => ({
    schedule: job.schedule,
    selector: cronJobSelector(job),
    called: `CronJob ${job.namespace}/${job.cronJob}`,
});

/** Seconds since a CronJob's last success, or since its creation while it never succeeded: what its alert compares. */
const cronJobAge = (s: string) =>
    `(time() - max(kube_cronjob_status_last_successful_time${s})) or (time() - max(kube_cronjob_created${s}))`;

/** The two panels of a CronJob path: age (red at its alert's threshold) and last success time. */
export function cronJobPanels(args: AlertsArgs, job: CronJobPath, alert: AlertName, what: string, width = 6): stat.PanelBuilder[] {
    const limit = maxAgeSeconds(job.schedule, args.graceHours);
    const runbooks = [alertRunbook(alert)];
    return [
        statPanel(args.runbookBaseUrl, {
            title: `${what}: since last success`,
            description: `Time since the last successful run of ${job.called} (since its creation if none). Red from ${limit / 3600} h, where ${alert} fires: schedule "${job.schedule}" interval plus ${args.graceHours} h.`,
            expr: cronJobAge(job.selector),
            unit: "s",
            red: limit,
            runbooks,
            width,
        }),
        statPanel(args.runbookBaseUrl, {
            title: `${what}: last success`,
            description: `When ${job.called} last succeeded (kube-state-metrics).`,
            expr: `max(kube_cronjob_status_last_successful_time${job.selector}) * 1000`,
            unit: "dateTimeAsIso",
            runbooks,
            width,
        }),
    ];
}
