// promtool rule unit tests generated from the code that renders the rules: alertSpecs() says what each rule watches
// (a schedule and its threshold, clusters, a CronJob, the coverage rules), and CASES turns that into input series
// shaped like the real exporters' metrics and the alerts Prometheus must (or must not) raise. CASES is keyed by every
// AlertName, so a new alert does not compile without cases; test/alerts.test.ts also checks that every rule the
// example stacks render has some. Kept under test/ (not next to the rules): it is test data, never deployed, and it
// needs the coverage fixture that verify's tests share.
//
// Time: promtool starts every test at Unix time 0 and evaluates the rules every `INTERVAL`. A "last success" is put
// in the past (a negative timestamp) so the threshold is crossed at the start: with a threshold of L seconds and a
// timestamp of -L, the age is exactly L at t=0 (quiet: the rules compare with >), L+60 at the first evaluation after
// (pending), and the alert fires `for` later. So every threshold is checked at "just not yet" (t = for, pending for
// for-60s) and "just now" (t = for + 60).
import { stringify } from "yaml";
import { type AlertName, type AlertRule, type AlertSpec, type AlertSubject, type AlertsArgs, alertSpecs } from "../components/alerts";
import { coverageFixture, ksmPvcSeries } from "./coverage-fixture";

/** promtool's evaluation and sample interval, seconds. */
export const INTERVAL = 60;

type Labels = Record<string, string>;
/** One input series: its labels (with __name__) and one value per INTERVAL from t=0. */
export interface InputSeries {
    labels: Labels;
    /** promtool's expanding notation, e.g. "0x20" or "0x4 1x20". */
    values: string;
}

export interface AlertCase {
    alert: AlertName;
    /** What the case shows. */
    name: string;
    input: InputSeries[];
    /** Seconds from the start. */
    evalAt: number;
    /** Labels of each alert that must be firing then (besides alertname); empty: none may fire. */
    firing: Labels[];
}

const seconds = (duration: string): number => {
    const m = /^(\d+)([smh])$/.exec(duration);
    if (!m) throw new Error(`unsupported for: ${duration}`);
    return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
};
/** Samples of a constant `v` from t=0 to `until` seconds (a few more, so the series is not stale at `until`). */
const constant = (v: number, until: number) => `${v}x${Math.ceil(until / INTERVAL) + 2}`;

// Scrape labels. Velero: its metrics server (port 8085) scraped by the chart's ServiceMonitor. CNPG: the instance
// manager's exporter (port 9187) scraped through a PodMonitor, which sets namespace and pod. kube-state-metrics: its
// ServiceMonitor with honorLabels, so the object's namespace label survives.
const VELERO_SCRAPE = { job: "velero", instance: "10.0.1.7:8085", namespace: "velero", pod: "velero-6d5c9c7f9d-x2k4p" };
const KSM_SCRAPE = { job: "kube-state-metrics", instance: "10.0.3.4:8080" };
const cnpgScrape = (namespace: string, pod: string) => ({ job: `${namespace}/cnpg`, instance: "10.0.2.11:9187", namespace, pod });

function need<K extends AlertSubject["kind"]>(spec: AlertSpec, kind: K): Extract<AlertSubject, { kind: K }> {
    if (spec.subject.kind !== kind) throw new Error(`${spec.rule.alert}: expected a ${kind} subject, got ${spec.subject.kind}`);
    return spec.subject as Extract<AlertSubject, { kind: K }>;
}

/** "Quiet just before the threshold plus for, firing just after", for a rule `time() - <ts> > limit`. */
function threshold(
    spec: AlertSpec,
    limit: number,
    what: string,
    input: (ts: number, until: number) => InputSeries[],
    labels: Labels[],
): AlertCase[] {
    const hold = seconds(spec.rule.for);
    const until = hold + INTERVAL;
    const series = input(-limit, until);
    return [
        {
            alert: spec.rule.alert,
            name: `${what}: ${limit} s old plus ${hold - INTERVAL} s: pending, quiet`,
            input: series,
            evalAt: hold,
            firing: [],
        },
        {
            alert: spec.rule.alert,
            name: `${what}: ${limit} s old plus ${hold} s (its for: ${spec.rule.for}): fires`,
            input: series,
            evalAt: until,
            firing: labels,
        },
    ];
}

const severity = (rule: AlertRule) => ({ severity: rule.labels.severity });

/** CNPG rules watch every configured cluster; the cases use the first one (by name) and an unconfigured neighbour. */
function cnpgTarget(spec: AlertSpec) {
    const s = need(spec, "cnpg");
    const [c] = [...s.clusters].sort((a, b) => a.name.localeCompare(b.name));
    const pod = `${c.name}-1`;
    return { s, c, pod, scrape: cnpgScrape(c.namespace, pod), stray: cnpgScrape(c.namespace, "stray-pg-1") };
}

/** CronJob rules (SQL Server, off-site copy, drills): kube-state-metrics' cronjob metrics. */
function cronJobCases(spec: AlertSpec): AlertCase[] {
    const { job, limitSeconds } = need(spec, "cronjob");
    const id = { namespace: job.namespace, cronjob: job.cronJob };
    const other = { namespace: job.namespace, cronjob: `${job.cronJob}-other` };
    const month = 30 * 24 * 3600;
    const hold = seconds(spec.rule.for);
    const s = (name: string, labels: Labels, v: number, until: number) => ({
        labels: { __name__: name, ...labels, ...KSM_SCRAPE },
        values: constant(v, until),
    });
    const expect = [{ ...id, ...severity(spec.rule) }];
    return [
        ...threshold(
            spec,
            limitSeconds,
            "last success",
            (ts, until) => [s("kube_cronjob_created", id, -month, until), s("kube_cronjob_status_last_successful_time", id, ts, until)],
            expect,
        ),
        ...threshold(spec, limitSeconds, "never succeeded, created", (ts, until) => [s("kube_cronjob_created", id, ts, until)], expect),
        {
            alert: spec.rule.alert,
            name: "never succeeded, created less than one interval ago: quiet",
            input: [s("kube_cronjob_created", id, 0, hold + INTERVAL)],
            evalAt: hold + INTERVAL,
            firing: [],
        },
        {
            alert: spec.rule.alert,
            name: "another CronJob of the namespace long overdue: quiet",
            input: [
                s("kube_cronjob_created", other, -month, 2 * hold),
                s("kube_cronjob_status_last_successful_time", other, -month, 2 * hold),
            ],
            evalAt: 2 * hold,
            firing: [],
        },
    ];
}

/** The cases of each alert, from its spec. */
export const CASES: { [A in AlertName]: (spec: AlertSpec) => AlertCase[] } = {
    // Velero pkg/metrics/metrics.go: counters velero_backup_failure_total / velero_backup_partial_failure_total with the
    // one label `schedule`, set to 0 for every schedule at startup (InitSchedule).
    VeleroBackupFailed: (spec) => {
        need(spec, "velero-failures");
        const c = (name: string, values: string) => ({
            labels: { __name__: name, schedule: "daily-namespaces", ...VELERO_SCRAPE },
            values,
        });
        const expect = [{ schedule: "daily-namespaces", ...VELERO_SCRAPE, ...severity(spec.rule) }];
        const day = (24 * 3600) / INTERVAL;
        return [
            {
                alert: spec.rule.alert,
                name: "no failures: quiet",
                input: [c("velero_backup_failure_total", "0x30"), c("velero_backup_partial_failure_total", "0x30")],
                evalAt: 30 * INTERVAL,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: "a failure at 5m, 4m later: pending, quiet",
                input: [c("velero_backup_failure_total", "0x4 1x30"), c("velero_backup_partial_failure_total", "0x35")],
                evalAt: 9 * INTERVAL,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: "a failure at 5m, 5m later: fires",
                input: [c("velero_backup_failure_total", "0x4 1x30"), c("velero_backup_partial_failure_total", "0x35")],
                evalAt: 10 * INTERVAL,
                firing: expect,
            },
            {
                alert: spec.rule.alert,
                name: "a partial failure: fires",
                input: [c("velero_backup_failure_total", "0x35"), c("velero_backup_partial_failure_total", "0x4 1x30")],
                evalAt: 10 * INTERVAL,
                firing: expect,
            },
            {
                alert: spec.rule.alert,
                name: "a failure more than 24 hours ago: quiet",
                input: [c("velero_backup_failure_total", `0 1x${day + 20}`), c("velero_backup_partial_failure_total", `0x${day + 21}`)],
                evalAt: (day + 10) * INTERVAL,
                firing: [],
            },
        ];
    },
    // kube-state-metrics custom-resource state (ksmVeleroConfig): a StateSet gives one series per listed phase, 1 for the
    // current one, with the labelsFromPath (name, namespace) and the customresource_{group,kind,version} labels it adds.
    VeleroBackupStorageLocationUnavailable: (spec) => {
        const { namespace } = need(spec, "velero-location");
        const bsl = (ns: string, unavailable: number, until: number) =>
            (["Available", "Unavailable"] as const).map((phase) => ({
                labels: {
                    __name__: "velero_backup_storage_location_phase",
                    customresource_group: "velero.io",
                    customresource_kind: "BackupStorageLocation",
                    customresource_version: "v1",
                    name: "default",
                    namespace: ns,
                    phase,
                    ...KSM_SCRAPE,
                },
                values: constant(phase === "Unavailable" ? unavailable : 1 - unavailable, until),
            }));
        const hold = seconds(spec.rule.for);
        const labels = {
            customresource_group: "velero.io",
            customresource_kind: "BackupStorageLocation",
            customresource_version: "v1",
            name: "default",
            namespace,
            phase: "Unavailable",
            ...KSM_SCRAPE,
            ...severity(spec.rule),
        };
        return [
            { alert: spec.rule.alert, name: "Available: quiet", input: bsl(namespace, 0, 2 * hold), evalAt: 2 * hold, firing: [] },
            {
                alert: spec.rule.alert,
                name: `Unavailable for ${hold - INTERVAL} s: pending, quiet`,
                input: bsl(namespace, 1, hold),
                evalAt: hold - INTERVAL,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: `Unavailable for ${spec.rule.for}: fires`,
                input: bsl(namespace, 1, hold),
                evalAt: hold,
                firing: [labels],
            },
            {
                alert: spec.rule.alert,
                name: "Unavailable in another namespace: quiet",
                input: bsl(`${namespace}-other`, 1, 2 * hold),
                evalAt: 2 * hold,
                firing: [],
            },
        ];
    },
    // Velero pkg/metrics/metrics.go: gauge velero_backup_last_successful_timestamp{schedule}, Unix seconds.
    VeleroBackupNotRunning: (spec) => {
        const { schedule, limitSeconds } = need(spec, "velero-schedule");
        const s = (sched: string, ts: number, until: number) => ({
            labels: { __name__: "velero_backup_last_successful_timestamp", schedule: sched, ...VELERO_SCRAPE },
            values: constant(ts, until),
        });
        const hold = seconds(spec.rule.for);
        return [
            ...threshold(spec, limitSeconds, `schedule ${schedule}'s last success`, (ts, until) => [s(schedule, ts, until)], [
                { schedule, ...VELERO_SCRAPE, ...severity(spec.rule) },
            ]),
            {
                alert: spec.rule.alert,
                name: "another schedule long overdue: quiet",
                input: [s(`${schedule}-other`, -90 * 24 * 3600, 2 * hold)],
                evalAt: 2 * hold,
                firing: [],
            },
        ];
    },
    // CloudNativePG config/manager/default-monitoring.yaml, query pg_stat_archiver: gauges last_archived_time and
    // last_failed_time, Unix seconds, -1 when never (COALESCE(..., -1)); only on the primary (predicate_query).
    CNPGWALArchivingFailed: (spec) => {
        const { c, pod, scrape, stray } = cnpgTarget(spec);
        const m = (name: string, labels: Labels, values: string) => ({
            labels: { __name__: `cnpg_pg_stat_archiver_${name}`, ...labels },
            values,
        });
        const hold = seconds(spec.rule.for);
        const n = hold / INTERVAL;
        return [
            {
                alert: spec.rule.alert,
                name: "never failed (last_failed_time -1): quiet",
                input: [m("last_archived_time", scrape, `100x${2 * n}`), m("last_failed_time", scrape, `-1x${2 * n}`)],
                evalAt: 2 * hold,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: `failing since t=0, ${hold - INTERVAL} s later: pending, quiet`,
                input: [m("last_archived_time", scrape, `100x${2 * n}`), m("last_failed_time", scrape, `200x${2 * n}`)],
                evalAt: hold - INTERVAL,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: `failing since t=0, ${spec.rule.for} later: fires`,
                input: [m("last_archived_time", scrape, `100x${2 * n}`), m("last_failed_time", scrape, `200x${2 * n}`)],
                evalAt: hold,
                firing: [{ ...scrape, cluster: c.name, ...severity(spec.rule) }],
            },
            {
                alert: spec.rule.alert,
                name: "a success after the failure: quiet",
                input: [m("last_archived_time", scrape, `100x2 300x${2 * n}`), m("last_failed_time", scrape, `200x${2 * n + 2}`)],
                evalAt: 2 * hold,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: `a pod of an unconfigured cluster next to ${pod}, failing: quiet`,
                input: [m("last_archived_time", stray, `100x${2 * n}`), m("last_failed_time", stray, `200x${2 * n}`)],
                evalAt: 2 * hold,
                firing: [],
            },
        ];
    },
    CNPGBackupStale: (spec) => {
        const { c, scrape } = cnpgTarget(spec);
        // The archiving staleness threshold is fixed: one hour.
        return threshold(
            spec,
            3600,
            "last WAL archived",
            (ts, until) => [{ labels: { __name__: "cnpg_pg_stat_archiver_last_archived_time", ...scrape }, values: constant(ts, until) }],
            [{ ...scrape, cluster: c.name, ...severity(spec.rule) }],
        );
    },
    // In-tree: the instance manager's collector, cnpg_collector_last_available_backup_timestamp (CloudNativePG
    // docs/src/monitoring.md). Plugin: the Barman Cloud plugin's barman_cloud_cloudnative_pg_io_last_available_backup_timestamp
    // (plugin-barman-cloud docs, "Observability"), exported through the same instance manager endpoint. Both Unix
    // seconds, no labels of their own. Under the plugin the in-tree metric stops moving: it must not count.
    CNPGBaseBackupTooOld: (spec) => {
        const { s, c, scrape } = cnpgTarget(spec);
        const [used, unused] =
            s.method === "plugin"
                ? ["barman_cloud_cloudnative_pg_io_last_available_backup_timestamp", "cnpg_collector_last_available_backup_timestamp"]
                : ["cnpg_collector_last_available_backup_timestamp", "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp"];
        const hold = seconds(spec.rule.for);
        return [
            ...threshold(
                spec,
                s.limitSeconds,
                `last base backup (${used})`,
                (ts, until) => [{ labels: { __name__: used, ...scrape }, values: constant(ts, until) }],
                [{ namespace: c.namespace, pod: scrape.pod, cluster: c.name, ...severity(spec.rule) }],
            ),
            {
                alert: spec.rule.alert,
                name: `${unused} (the other method's) long stale, ${used} fresh: quiet`,
                input: [
                    { labels: { __name__: unused, ...scrape }, values: constant(-90 * 24 * 3600, 2 * hold) },
                    { labels: { __name__: used, ...scrape }, values: constant(0, 2 * hold) },
                ],
                evalAt: 2 * hold,
                firing: [],
            },
        ];
    },
    // kube-state-metrics docs/metrics/workload/cronjob-metrics.md: kube_cronjob_status_last_successful_time and
    // kube_cronjob_created, Unix seconds, labels namespace and cronjob.
    MSSQLBackupMissing: cronJobCases,
    OffsiteCopyStale: cronJobCases,
    CNPGRestoreDrillOverdue: cronJobCases,
    // kube-state-metrics PVC metrics for the shared coverage fixture (test/coverage-fixture.ts).
    PersistentVolumeClaimNotBackedUp: (spec) => {
        const { rules } = need(spec, "coverage");
        const pvcs = coverageFixture(rules);
        const hold = seconds(spec.rule.for);
        const input = ksmPvcSeries(pvcs).map((labels) => ({ labels, values: constant(1, hold) }));
        const firing = pvcs
            .filter((p) => !p.covered)
            .map((p) => ({
                namespace: p.namespace,
                persistentvolumeclaim: p.name,
                storageclass: p.storageClassName,
                ...severity(spec.rule),
            }));
        const coveredOnly = ksmPvcSeries(pvcs.filter((p) => p.covered)).map((labels) => ({ labels, values: constant(1, hold) }));
        return [
            {
                alert: spec.rule.alert,
                name: `uncovered PVCs for ${hold - INTERVAL} s: pending, quiet`,
                input,
                evalAt: hold - INTERVAL,
                firing: [],
            },
            {
                alert: spec.rule.alert,
                name: `the uncovered PVCs after ${spec.rule.for}: fire, the covered do not`,
                input,
                evalAt: hold,
                firing,
            },
            { alert: spec.rule.alert, name: "only covered PVCs: quiet", input: coveredOnly, evalAt: hold, firing: [] },
        ];
    },
};

/** `{{ $labels.x }}` expanded as Prometheus does for these rules (they use nothing else). */
export function expand(template: string, labels: Labels): string {
    const out = template.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, k: string) => labels[k] ?? "");
    if (out.includes("{{")) throw new Error(`unsupported template in ${JSON.stringify(template)}`);
    return out;
}

/** promtool's exp_alerts for alerts of `rule` with these labels: the labels, and the annotations expanded with them. */
export const expectedAlerts = (rule: AlertRule, firing: Labels[]) =>
    firing.map((labels) => ({
        exp_labels: labels,
        exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expand(v, labels)])),
    }));

/** Every case of every rule of `args`, in rule order. */
export const alertCases = (args: AlertsArgs): { spec: AlertSpec; cases: AlertCase[] }[] =>
    alertSpecs(args).map((spec) => ({ spec, cases: CASES[spec.rule.alert](spec) }));

/** A series in promtool's input notation, `name{k="v",...}`. */
export const seriesText = (labels: Labels) => {
    const { __name__: name, ...rest } = labels;
    return `${name}{${Object.entries(rest)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(",")}}`;
};

/**
 * The promtool files for `args`: the rule file (the PrometheusRule's spec, as the operator hands it to Prometheus)
 * and a test file with one test per case. `rulesFile` is the rule file's name relative to the test file.
 */
export function promtoolFiles(args: AlertsArgs, rulesFile = "rules.yaml"): { rules: string; tests: string; cases: number; alerts: number } {
    const specs = alertCases(args);
    const rules = stringify({ groups: [{ name: "backup.rules", rules: specs.map((s) => s.spec.rule) }] });
    // Rules sharing a name (one per schedule or CronJob) are told apart by their cases' labels.
    const tests = specs.flatMap(({ spec, cases }) =>
        cases.map((c) => ({
            name: `${c.alert} [${spec.rule.annotations.summary}]: ${c.name}`,
            interval: `${INTERVAL}s`,
            input_series: c.input.map((s) => ({ series: seriesText(s.labels), values: s.values })),
            alert_rule_test: [
                {
                    eval_time: `${c.evalAt}s`,
                    alertname: c.alert,
                    exp_alerts: expectedAlerts(spec.rule, c.firing),
                },
            ],
        })),
    );
    return {
        rules,
        tests: stringify({ rule_files: [rulesFile], evaluation_interval: `${INTERVAL}s`, tests }, { lineWidth: 0 }),
        cases: tests.length,
        alerts: new Set(specs.map((s) => s.spec.rule.alert)).size,
    };
}
