// The checks of CronJobs: the SQL Server backups, the off-site copy and the scheduled restore drills,
// each judged by the CronJob's last success against its schedule (the drills also by their last report).
import { type Config } from "../config";
import { drillCronJobName, drillReportName, OFFSITE_CRONJOB } from "../core/names";
import { type DrillReport } from "../core/drill";
import { maxAgeSeconds } from "../core/schedule";
import { find, hours, iso, meta, spec, status, time, type Row, type Status } from "./rows";
import { type Snapshot } from "./snapshot";

/** A CronJob judged by its last success against its schedule: the SQL Server backups, the off-site copy, the drills. */
function cronJobRow(
    kind: Row["kind"],
    snap: Snapshot,
    now: number,
    job: { namespace: string; name: string; schedule: string; graceHours: number },
    facts: Row["facts"],
): Row {
    const limit = maxAgeSeconds(job.schedule, job.graceHours);
    facts.maxAgeSeconds = limit;
    const row = (s: Status, detail: string): Row => ({ kind, name: `${job.namespace}/${job.name}`, status: s, detail, facts });
    const cronJob = find(snap.cronJobs, job.namespace, job.name);
    if (!cronJob) return row("FAIL", "CronJob not found");
    const last = time(status(cronJob).lastSuccessfulTime);
    facts.lastSuccessfulTime = iso(last);
    facts.lastScheduleTime = (status(cronJob).lastScheduleTime as string | undefined) ?? null;
    if (spec(cronJob).suspend === true) return row("FAIL", "CronJob suspended");
    if (last === undefined) {
        const since = time(meta(cronJob).creationTimestamp);
        return since !== undefined && now - since < limit * 1000
            ? row("WARN", "no run yet (created within one interval)")
            : row("FAIL", "never succeeded");
    }
    const age = (now - last) / 1000;
    facts.lastSuccessAgeSeconds = Math.round(age);
    return age > limit ? row("FAIL", `last success ${hours(age)} ago, limit ${hours(limit)}`) : row("OK", `last success ${hours(age)} ago`);
}

export function mssqlRows(cfg: Config, snap: Snapshot, now: number): Row[] {
    return cfg.mssql.map((db) => {
        const name = `${db.name.toLowerCase().replace(/_/g, "-")}-mssql-backup`;
        return cronJobRow(
            "mssql",
            snap,
            now,
            { namespace: db.namespace, name, schedule: db.schedule, graceHours: cfg.alerts.graceHours },
            {
                database: db.name,
            },
        );
    });
}

/**
 * Bare metal: the copy CronJob's last success. On AWS the off-site copy is S3 replication, which
 * this command cannot see (it reads the cluster only): CloudWatch alarms watch it (README).
 */
export function offsiteRows(cfg: Config, snap: Snapshot, now: number): Row[] {
    if (cfg.platform !== "baremetal" || !cfg.offsite.enabled) return [];
    const o = cfg.offsite;
    const destination = o.destination?.bucket ?? o.aws?.bucket ?? "";
    return [
        cronJobRow(
            "offsite",
            snap,
            now,
            { namespace: o.namespace, name: OFFSITE_CRONJOB, schedule: o.schedule, graceHours: cfg.alerts.graceHours },
            { destination: `s3://${[destination, o.prefix].filter((p) => p !== "").join("/")}` },
        ),
    ];
}

/** Scheduled drills: the CronJob's last success, and what the last run's report says. */
export function drillRows(cfg: Config, snap: Snapshot, now: number): Row[] {
    const d = cfg.drills;
    if (!d.enabled || d.schedule === undefined) return [];
    const schedule = d.schedule;
    return cfg.postgres
        .filter((db) => d.databases.length === 0 || d.databases.includes(db.name))
        .map((db) => {
            const row = cronJobRow(
                "drill",
                snap,
                now,
                { namespace: db.namespace, name: drillCronJobName(db.name), schedule, graceHours: cfg.alerts.graceHours },
                { database: db.name },
            );
            const cm = find(snap.drillReports ?? [], db.namespace, drillReportName(db.name));
            const raw = (cm?.data as Record<string, string> | undefined)?.["report.json"];
            if (raw === undefined) return row;
            let report: DrillReport;
            try {
                report = JSON.parse(raw) as DrillReport;
            } catch {
                return row;
            }
            Object.assign(row.facts, {
                lastDrillOk: report.ok,
                lastDrillFinishedAt: report.finishedAt,
                timeToRecoverSeconds: report.timeToRecoverSeconds,
                recoveredTo: report.recoveredPoint.target,
                timeline: report.recoveredPoint.timeline,
            });
            if (!report.ok) {
                const failed = `last drill failed: ${report.error ?? "see its report"}`;
                return row.status === "OK"
                    ? { ...row, status: "WARN", detail: `${failed}; ${row.detail}` }
                    : { ...row, detail: `${row.detail}; ${failed}` };
            }
            return row.status === "OK"
                ? {
                      ...row,
                      detail: `${row.detail}: recovered in ${report.timeToRecoverSeconds ?? "?"} s to ${report.recoveredPoint.target}`,
                  }
                : row;
        });
}
