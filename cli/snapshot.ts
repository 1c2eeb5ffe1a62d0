// What `npm run verify` reads from the cluster: a Snapshot of every collection the checks (cli/checks.ts) look
// at, listed namespace by namespace.
import { type Config } from "../config";
import { apiPath, type Kube, type KubeObject } from "../kube/client";
import { REPORT_LABEL } from "../core/names";

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

/** Awaits every promise of a record, keeping the keys. */
async function allOf<T extends Record<string, Promise<unknown>>>(record: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
    const values = await Promise.all(Object.values(record));
    return Object.fromEntries(Object.keys(record).map((k, i) => [k, values[i]])) as { [K in keyof T]: Awaited<T[K]> };
}

/** Reads everything the checks look at, namespace by namespace. */
export async function snapshot(kube: Pick<Kube, "list">, cfg: Config): Promise<Snapshot> {
    const inEach = async (namespaces: string[], group: string, version: string, plural: string): Promise<KubeObject[]> =>
        (await Promise.all([...new Set(namespaces)].map((ns) => kube.list(apiPath(group, version, plural, ns))))).flat();
    const pg = cfg.postgres.map((db) => db.namespace);
    const vns = [cfg.velero.namespace];
    const drills = cfg.drills.enabled && cfg.drills.schedule !== undefined ? pg : [];
    const jobNamespaces = [
        ...cfg.mssql.map((db) => db.namespace),
        ...(cfg.platform === "baremetal" && cfg.offsite.enabled ? [cfg.offsite.namespace] : []),
        ...drills,
    ];
    return allOf({
        clusters: inEach(pg, "postgresql.cnpg.io", "v1", "clusters"),
        scheduledBackups: inEach(pg, "postgresql.cnpg.io", "v1", "scheduledbackups"),
        backups: inEach(pg, "postgresql.cnpg.io", "v1", "backups"),
        objectStores: cfg.cnpg.method === "plugin" ? inEach(pg, "barmancloud.cnpg.io", "v1", "objectstores") : Promise.resolve([]),
        cronJobs: inEach(jobNamespaces, "batch", "v1", "cronjobs"),
        drillReports: (async (): Promise<KubeObject[]> => {
            const selector = `?labelSelector=${encodeURIComponent(REPORT_LABEL)}`;
            return (
                await Promise.all([...new Set(drills)].map((ns) => kube.list(`${apiPath("", "v1", "configmaps", ns)}${selector}`)))
            ).flat();
        })(),
        veleroLocations: inEach(vns, "velero.io", "v1", "backupstoragelocations"),
        veleroSchedules: inEach(vns, "velero.io", "v1", "schedules"),
        veleroBackups: inEach(vns, "velero.io", "v1", "backups"),
        pvcs: kube.list(apiPath("", "v1", "persistentvolumeclaims")),
    });
}
