// What `npm run verify` concludes from a snapshot of the cluster: one row per protected thing, and
// one per PersistentVolumeClaim no backup covers. Pure (snapshot + config + now -> rows), so every
// rule is testable without a cluster.
import { coveredBy, OPT_OUT } from "../core/coverage";
import { type Config } from "../config";
import { type KubeObject } from "../kube/client";
import { BARMAN_PLUGIN, objectStoreName, scheduledBackupName } from "../core/names";
import { coverageRules } from "../config/coverage";
import { maxAgeSeconds } from "../core/schedule";
import { drillRows, mssqlRows, offsiteRows } from "./cronjob-checks";
import { find, hours, iso, meta, spec, status, time, type Obj, type Row, type Status } from "./rows";
import { type Snapshot } from "./snapshot";

export { OPT_OUT };

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

        const window = recoveryWindow(snap, db);
        const lastBackup = lastBaseBackup(snap, db, cluster, window);
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

/** A database's entry in its ObjectStore's serverRecoveryWindow (plugin method), or {} when there is none. */
function recoveryWindow(snap: Snapshot, db: { namespace: string; name: string }): Obj {
    const store = find(snap.objectStores, db.namespace, objectStoreName(db.name));
    return ((store ? status(store).serverRecoveryWindow : undefined) as Record<string, Obj> | undefined)?.[db.name] ?? {};
}

/** When a database's newest base backup completed: its Backups, its Cluster's status, its recovery window; undefined if never. */
function lastBaseBackup(snap: Snapshot, db: { namespace: string; name: string }, cluster: KubeObject, window: Obj): number | undefined {
    const completed = snap.backups
        .filter(
            (b) =>
                meta(b).namespace === db.namespace &&
                ((spec(b).cluster as Obj | undefined)?.name ?? meta(b).labels?.["cnpg.io/cluster"]) === db.name,
        )
        .filter((b) => status(b).phase === "completed")
        .map((b) => time(status(b).stoppedAt))
        .filter((t): t is number => t !== undefined);
    const last = Math.max(
        ...completed,
        time(status(cluster).lastSuccessfulBackup) ?? -Infinity,
        time(window.lastSuccessfulBackupTime) ?? -Infinity,
    );
    return Number.isFinite(last) ? last : undefined;
}

function veleroRows(cfg: Config, snap: Snapshot, now: number): Row[] {
    const ns = cfg.velero.namespace;
    const rows: Row[] = [locationRow(snap, ns)];
    const schedules = cfg.ha ? cfg.velero.schedules : {};
    let lastCompleted = -Infinity;
    for (const [schedule, s] of Object.entries(schedules)) {
        const { row, last } = scheduleRow(snap, ns, schedule, maxAgeSeconds(s.schedule, cfg.alerts.graceHours), now);
        if (last !== undefined) lastCompleted = Math.max(lastCompleted, last);
        rows.push(row);
    }
    rows.push(failedBackupsRow(snap, ns, lastCompleted));
    return rows;
}

/** The BackupStorageLocation `default`: OK when Available. */
function locationRow(snap: Snapshot, ns: string): Row {
    const bsl = find(snap.veleroLocations, ns, "default");
    const phase = bsl ? (status(bsl).phase as string | undefined) : undefined;
    return {
        kind: "velero-location",
        name: `${ns}/default`,
        status: phase === "Available" ? "OK" : "FAIL",
        detail: bsl
            ? `phase ${phase ?? "unknown"}${status(bsl).message ? `: ${String(status(bsl).message)}` : ""}`
            : "BackupStorageLocation not found",
        facts: { phase: phase ?? null, lastValidationTime: (bsl && (status(bsl).lastValidationTime as string | undefined)) ?? null },
    };
}

/** One Velero Schedule, judged by its newest completed Backup against `limit` seconds; also returns when that completed. */
function scheduleRow(snap: Snapshot, ns: string, schedule: string, limit: number, now: number): { row: Row; last: number | undefined } {
    const mine = snap.veleroBackups.filter((b) => meta(b).labels?.["velero.io/schedule-name"] === schedule);
    const completed = mine
        .filter((b) => status(b).phase === "Completed")
        .map((b) => time(status(b).completionTimestamp))
        .filter((t): t is number => t !== undefined);
    const last = completed.length > 0 ? Math.max(...completed) : undefined;
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
    if (!facts.exists) return { row: row("FAIL", "Schedule not found"), last };
    if (last === undefined) return { row: row("FAIL", "no completed backup"), last };
    if ((now - last) / 1000 > limit)
        return { row: row("FAIL", `last completed backup ${hours((now - last) / 1000)} ago, limit ${hours(limit)}`), last };
    return { row: row("OK", `last completed backup ${hours((now - last) / 1000)} ago`), last };
}

/** Failed or partially failed backups that no later completed backup has superseded. */
function failedBackupsRow(snap: Snapshot, ns: string, lastCompleted: number): Row {
    const bad = snap.veleroBackups.filter(
        (b) =>
            ["Failed", "PartiallyFailed", "FailedValidation"].includes(String(status(b).phase)) &&
            (time(meta(b).creationTimestamp) ?? 0) > lastCompleted,
    );
    return {
        kind: "velero-backups",
        name: `${ns}/*`,
        status: bad.length === 0 ? "OK" : "FAIL",
        detail:
            bad.length === 0
                ? "no failed backups since the last completed one"
                : `failed: ${bad.map((b) => `${String(meta(b).name)} (${String(status(b).phase)})`).join(", ")}`,
        facts: { failed: bad.length },
    };
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
