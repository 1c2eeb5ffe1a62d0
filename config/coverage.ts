// The coverage rules a configuration implies (core/coverage.ts applies them): which namespaces Velero takes, which
// clusters' and SQL Server StatefulSets' volumes their backups cover.
import { type CoverageRules } from "../core/coverage";
import { drillClusterName } from "../core/names";
import { type Config } from "./schema";

/** The coverage rules config implies. */
export function coverageRules(cfg: Config): CoverageRules {
    const schedules = cfg.ha ? Object.values(cfg.velero.schedules) : [];
    const namespaced = schedules.filter((s) => !s.includeClusterResources);
    return {
        veleroAllNamespaces: schedules.some((s) => s.includeClusterResources),
        veleroNamespaces: [...new Set(namespaced.flatMap((s) => s.includedNamespaces ?? cfg.namespaces))].sort(),
        ...(cfg.velero.snapshotStorageClasses ? { snapshotStorageClasses: [...cfg.velero.snapshotStorageClasses].sort() } : {}),
        clusters: [
            ...cfg.postgres.map((db) => ({ namespace: db.namespace, name: db.name, drill: false })),
            ...(cfg.drills.enabled
                ? cfg.postgres.map((db) => ({ namespace: db.namespace, name: drillClusterName(db.name), drill: true }))
                : []),
        ],
        mssql: cfg.mssql.map((db) => ({ namespace: db.namespace, host: db.host.split(".")[0] })),
    };
}
