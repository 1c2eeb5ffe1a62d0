// The contract between the program (which deploys a drill's template), the in-cluster runner (which reads it and
// writes a report) and `npm run verify` (which reads the report). Imports nothing of the project.

/** What the program deploys in the template ConfigMap. */
export interface DrillTemplate {
    database: string;
    /** How the database is backed up (and so restored): plugin or barmanObjectStore. */
    method: string;
    /** The Cluster spec fields of the recovery (bootstrap, externalClusters, env, serviceAccountTemplate). */
    spec: Record<string, unknown>;
}

/** What a drill run reports (the report ConfigMap's `report.json`, `npm run drill`'s output). */
export interface DrillReport {
    ok: boolean;
    database: string;
    namespace: string;
    cluster: string;
    method: string | null;
    runId: string;
    startedAt: string;
    finishedAt: string | null;
    /** When the cluster was first seen healthy. */
    healthyAt: string | null;
    /** Seconds from creating the cluster to healthy. */
    timeToRecoverSeconds: number | null;
    recoveredPoint: {
        /** The requested target, or "latest" (the end of the archived WAL). */
        target: string;
        /** Timeline the recovered cluster runs on (the archive's timeline + 1 after promotion). */
        timeline: number | null;
        /** The archive's recovery window when the drill started (source Cluster or ObjectStore status). */
        firstRecoverabilityPoint: string | null;
        lastSuccessfulBackup: string | null;
    };
    /** Last phase seen on the drill cluster. */
    phase: string | null;
    check: { job: string; image: string; passed: boolean; detail: string } | null;
    cleanup: { deleted: string[]; errors: string[] };
    error: string | null;
}
