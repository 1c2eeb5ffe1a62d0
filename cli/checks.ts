// What `npm run verify` concludes from a snapshot of the cluster: one row per protected thing, and
// one per PersistentVolumeClaim no backup covers. Pure (snapshot + config + now -> rows), so every
// rule is testable without a cluster.
import { coveredBy, OPT_OUT } from "../core/coverage";
import { type Config } from "../config";
import { type KubeObject } from "../kube/client";
import { BARMAN_PLUGIN, drillCronJobName, drillReportName, objectStoreName, OFFSITE_CRONJOB, scheduledBackupName } from "../core/names";
import { coverageRules } from "../config/coverage";
import { type DrillReport } from "../core/drill";
import { maxAgeSeconds } from "../core/schedule";

export type Status = "OK" | "WARN" | "FAIL";

export interface Row {
    kind: "postgres" | "mssql" | "velero-location" | "velero-schedule" | "velero-backups" | "pvc" | "offsite" | "drill";
    /** namespace/name of the thing checked. */
    name: string;
    status: Status;
    /** Human explanation; the first problem found, or the facts when OK. */
    detail: string;
    /** Machine-readable facts (ages in seconds, timestamps). */
    facts: Record<string, string | number | boolean | null>;
}

export interface Snapshot {
    /** CNPG Clusters, ScheduledBackups, Backups and plugin ObjectStores in the inventory's namespaces. */
    clusters: KubeObject[];
    scheduledBackups: KubeObject[];
    backups: KubeObject[];
    objectStores: KubeObject[];
    /** CronJobs in the SQL Server, off-site copy and scheduled drill namespaces. */
    cronJobs: KubeObject[];
    /** Restore drill report ConfigMaps in the drilled databases' namespaces. Default none. */
    drillReports?: KubeObject[];
    /** Velero objects in its namespace. */
    veleroLocations: KubeObject[];
    veleroSchedules: KubeObject[];
    veleroBackups: KubeObject[];
    /** Every PersistentVolumeClaim in the cluster. */
    pvcs: KubeObject[];
}

/** A snapshot with nothing in it (tests add what a case needs). */
export const emptySnapshot = (): Snapshot => ({
    clusters: [],
    scheduledBackups: [],
    backups: [],
    objectStores: [],
    cronJobs: [],
    veleroLocations: [],
    veleroSchedules: [],
    veleroBackups: [],
    pvcs: [],
});

export { OPT_OUT };

type Obj = Record<string, unknown>;
const meta = (o: KubeObject) => o.metadata ?? {};
const spec = (o: KubeObject) => (o.spec ?? {}) as Obj;
const status = (o: KubeObject) => (o.status ?? {}) as Obj;
const find = (list: KubeObject[], namespace: string, name: string) =>
    list.find((o) => meta(o).namespace === namespace && meta(o).name === name);
const time = (v: unknown): number | undefined => (typeof v === "string" && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : undefined);
const hours = (seconds: number) => `${Math.round((seconds / 3600) * 10) / 10}h`;
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Rows for every protected thing, then unprotected PVCs. */
export function evaluate(cfg: Config, snap: Snapshot, now: number): Row[] {
    return [
        ...postgresRows(cfg, snap, now),
        ...mssqlRows(cfg, snap, now),
        ...veleroRows(cfg, snap, now),
        ...offsiteRows(cfg, snap, now),
        ...drillRows(cfg, snap, now),
        ...coverageRows(cfg, snap),
    ];
}

function postgresRows(cfg: Config, snap: Snapshot, now: number): Row[] {
    const limit = maxAgeSeconds(cfg.cnpg.schedule, cfg.alerts.graceHours);
    return cfg.postgres.map((db) => {
        const name = `${db.namespace}/${db.name}`;
        const facts: Row["facts"] = { method: cfg.cnpg.method, maxAgeSeconds: limit };
        const row = (s: Status, detail: string): Row => ({ kind: "postgres", name, status: s, detail, facts });
        const cluster = find(snap.clusters, db.namespace, db.name);
        if (!cluster) return row("FAIL", "Cluster not found");
        const plugins = (spec(cluster).plugins as Obj[] | undefined) ?? [];
        const configured =
            cfg.cnpg.method === "plugin"
                ? plugins.some((p) => p.name === BARMAN_PLUGIN && p.isWALArchiver === true)
                : ((spec(cluster).backup as Obj | undefined)?.barmanObjectStore ?? undefined) !== undefined;
        facts.backupConfigured = configured;
        const scheduled = find(snap.scheduledBackups, db.namespace, scheduledBackupName(db.name));
        facts.scheduledBackup = scheduled ? `${db.namespace}/${scheduledBackupName(db.name)}` : null;

        const completed = snap.backups
            .filter(
                (b) =>
                    meta(b).namespace === db.namespace &&
                    ((spec(b).cluster as Obj | undefined)?.name ?? meta(b).labels?.["cnpg.io/cluster"]) === db.name,
            )
            .filter((b) => status(b).phase === "completed")
            .map((b) => time(status(b).stoppedAt))
            .filter((t): t is number => t !== undefined);
        const store = find(snap.objectStores, db.namespace, objectStoreName(db.name));
        const window = ((store ? status(store).serverRecoveryWindow : undefined) as Record<string, Obj> | undefined)?.[db.name] ?? {};
        const last = Math.max(
            ...completed,
            time(status(cluster).lastSuccessfulBackup) ?? -Infinity,
            time(window.lastSuccessfulBackupTime) ?? -Infinity,
        );
        const lastBackup = Number.isFinite(last) ? last : undefined;
        facts.lastSuccessfulBackup = iso(lastBackup);
        facts.lastBackupAgeSeconds = lastBackup === undefined ? null : Math.round((now - lastBackup) / 1000);
        facts.firstRecoverabilityPoint =
            (window.firstRecoverabilityPoint as string | undefined) ??
            (status(cluster).firstRecoverabilityPoint as string | undefined) ??
            null;
        const archiving = ((status(cluster).conditions as Obj[] | undefined) ?? []).find((c) => c.type === "ContinuousArchiving");
        facts.walArchiving = archiving ? String(archiving.status) : null;

        if (!configured) return row("FAIL", `no ${cfg.cnpg.method} backup configuration on the Cluster`);
        if (!scheduled) return row("FAIL", `ScheduledBackup ${scheduledBackupName(db.name)} missing`);
        if (!archiving || archiving.status !== "True") {
            const why =
                typeof archiving?.message === "string" ? archiving.message : typeof archiving?.reason === "string" ? archiving.reason : "";
            return row("FAIL", `WAL archiving ${archiving ? `failing: ${why}` : "not reported"}`);
        }
        if (lastBackup === undefined) {
            const since = time(meta(scheduled).creationTimestamp);
            return since !== undefined && now - since < limit * 1000
                ? row("WARN", "no base backup yet (ScheduledBackup created within one interval)")
                : row("FAIL", "no successful base backup");
        }
        const age = (now - lastBackup) / 1000;
        if (age > limit) return row("FAIL", `last base backup ${hours(age)} ago, limit ${hours(limit)}`);
        return row("OK", `last base backup ${hours(age)} ago, recoverable from ${String(facts.firstRecoverabilityPoint ?? "unknown")}`);
    });
}

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

function mssqlRows(cfg: Config, snap: Snapshot, now: number): Row[] {
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
function offsiteRows(cfg: Config, snap: Snapshot, now: number): Row[] {
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
function drillRows(cfg: Config, snap: Snapshot, now: number): Row[] {
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

function veleroRows(cfg: Config, snap: Snapshot, now: number): Row[] {
    const ns = cfg.velero.namespace;
    const rows: Row[] = [];
    const bsl = find(snap.veleroLocations, ns, "default");
    const phase = bsl ? (status(bsl).phase as string | undefined) : undefined;
    rows.push({
        kind: "velero-location",
        name: `${ns}/default`,
        status: phase === "Available" ? "OK" : "FAIL",
        detail: bsl
            ? `phase ${phase ?? "unknown"}${status(bsl).message ? `: ${String(status(bsl).message)}` : ""}`
            : "BackupStorageLocation not found",
        facts: { phase: phase ?? null, lastValidationTime: (bsl && (status(bsl).lastValidationTime as string | undefined)) ?? null },
    });
    const schedules = cfg.ha ? cfg.velero.schedules : {};
    let lastCompleted = -Infinity;
    for (const [schedule, s] of Object.entries(schedules)) {
        const limit = maxAgeSeconds(s.schedule, cfg.alerts.graceHours);
        const mine = snap.veleroBackups.filter((b) => meta(b).labels?.["velero.io/schedule-name"] === schedule);
        const completed = mine
            .filter((b) => status(b).phase === "Completed")
            .map((b) => time(status(b).completionTimestamp))
            .filter((t): t is number => t !== undefined);
        const last = completed.length > 0 ? Math.max(...completed) : undefined;
        if (last !== undefined) lastCompleted = Math.max(lastCompleted, last);
        const facts: Row["facts"] = {
            maxAgeSeconds: limit,
            lastCompleted: iso(last),
            exists: find(snap.veleroSchedules, ns, schedule) !== undefined,
        };
        const row = (st: Status, detail: string): Row => ({
            kind: "velero-schedule",
            name: `${ns}/${schedule}`,
            status: st,
            detail,
            facts,
        });
        if (!facts.exists) rows.push(row("FAIL", "Schedule not found"));
        else if (last === undefined) rows.push(row("FAIL", "no completed backup"));
        else if ((now - last) / 1000 > limit)
            rows.push(row("FAIL", `last completed backup ${hours((now - last) / 1000)} ago, limit ${hours(limit)}`));
        else rows.push(row("OK", `last completed backup ${hours((now - last) / 1000)} ago`));
    }
    // Failed or partially failed backups that no later completed backup has superseded.
    const bad = snap.veleroBackups.filter(
        (b) =>
            ["Failed", "PartiallyFailed", "FailedValidation"].includes(String(status(b).phase)) &&
            (time(meta(b).creationTimestamp) ?? 0) > lastCompleted,
    );
    rows.push({
        kind: "velero-backups",
        name: `${ns}/*`,
        status: bad.length === 0 ? "OK" : "FAIL",
        detail:
            bad.length === 0
                ? "no failed backups since the last completed one"
                : `failed: ${bad.map((b) => `${String(meta(b).name)} (${String(status(b).phase)})`).join(", ")}`,
        facts: { failed: bad.length },
    });
    return rows;
}

/** Seed 003, "keeping track of backups": every PVC is covered by something, or says why not (rules: components/coverage.ts). */
function coverageRows(cfg: Config, snap: Snapshot): Row[] {
    const rules = coverageRules(cfg);
    const rows: Row[] = [];
    let covered = 0;
    for (const pvc of snap.pvcs) {
        const ns = meta(pvc).namespace ?? "";
        const name = `${ns}/${meta(pvc).name ?? ""}`;
        const by = coveredBy(rules, {
            namespace: ns,
            name: meta(pvc).name ?? "",
            labels: meta(pvc).labels,
            annotations: meta(pvc).annotations,
            storageClassName: spec(pvc).storageClassName as string | undefined,
        });
        if (by === undefined) {
            rows.push({
                kind: "pvc",
                name,
                status: "FAIL",
                detail: `unprotected: no Velero schedule includes ${ns}${rules.snapshotStorageClasses ? " with a snapshot StorageClass" : ""}, no database backup owns it, no ${OPT_OUT} annotation with a reason`,
                facts: { protectedBy: null },
            });
        } else covered++;
    }
    const summary: Row = {
        kind: "pvc",
        name: "*",
        status: rows.length === 0 ? "OK" : "FAIL",
        detail: `${covered} of ${snap.pvcs.length} PersistentVolumeClaims covered`,
        facts: { total: snap.pvcs.length, covered },
    };
    return [summary, ...rows];
}
