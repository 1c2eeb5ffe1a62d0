// Which PersistentVolumeClaims a backup path covers, written once: `npm run verify` applies these rules to the
// PVCs it reads (cli/checks.ts) and the PersistentVolumeClaimNotBackedUp alert applies the same rules to
// kube-state-metrics' PVC series (components/alerts/). Both take their inputs from config/coverage.ts. Imports nothing of the project.

/** Annotation that opts a PVC out of the coverage check; its value says why (an empty value opts nothing out). */
export const OPT_OUT = "backup.platform/exclude";
/** Label CloudNativePG puts on every PVC of a cluster. */
export const CNPG_CLUSTER_LABEL = "cnpg.io/cluster";
/** Pre-StorageClassName-field annotation; kube-state-metrics' storageclass label falls back to it, so verify does too. */
const BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class";

/** The coverage rules of a stack. */
export interface CoverageRules {
    /** A Velero schedule with includeClusterResources backs up every namespace (Velero ignores its namespace list). */
    readonly veleroAllNamespaces: boolean;
    /** Namespaces the namespace-scoped Velero schedules include, sorted. */
    readonly veleroNamespaces: readonly string[];
    /**
     * StorageClasses whose volumes Velero's CSI snapshots capture (velero.snapshotStorageClasses); a PVC of another
     * class in a Velero namespace is not covered. Undefined: not checked, every class counts.
     */
    readonly snapshotStorageClasses?: readonly string[];
    /** CNPG clusters whose PVCs (label cnpg.io/cluster) their backups cover: the inventory's, and its drill clusters. */
    readonly clusters: readonly { namespace: string; name: string; drill: boolean }[];
    /**
     * SQL Server StatefulSets: a PVC `<anything>-<host>-<ordinal>` in the namespace (host = the service's first DNS
     * label, the StatefulSet's name) is the database's volume, covered by its BACKUP TO URL job.
     */
    readonly mssql: readonly { namespace: string; host: string }[];
}

/** What coverage looks at in a PVC. */
export interface PvcFacts {
    readonly namespace: string;
    readonly name: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    /** spec.storageClassName. */
    readonly storageClassName?: string;
}

/** A PVC's StorageClass as kube-state-metrics reports it: the field, else the beta annotation, else "". */
export const storageClassOf = (pvc: PvcFacts): string => pvc.storageClassName ?? pvc.annotations?.[BETA_STORAGE_CLASS] ?? "";

/** What covers `pvc` ("cnpg esb-postgres", "velero", "opted out: <why>"...), or undefined: nothing does. */
export function coveredBy(rules: CoverageRules, pvc: PvcFacts): string | undefined {
    const cnpg = pvc.labels?.[CNPG_CLUSTER_LABEL];
    const cluster = rules.clusters.find((c) => c.namespace === pvc.namespace && c.name === cnpg);
    if (cluster) return cluster.drill ? "restore drill (temporary)" : `cnpg ${cluster.name}`;
    if (rules.mssql.some((m) => m.namespace === pvc.namespace && new RegExp(`-${m.host}-[0-9]+$`).test(pvc.name)))
        return "sql server backup";
    const classes = rules.snapshotStorageClasses;
    if (
        (rules.veleroAllNamespaces || rules.veleroNamespaces.includes(pvc.namespace)) &&
        (classes === undefined || classes.includes(storageClassOf(pvc)))
    )
        return "velero";
    const why = pvc.annotations?.[OPT_OUT];
    if (why !== undefined && why !== "") return `opted out: ${why}`;
    return undefined;
}

/** Whether any PVC could be uncovered: false when Velero takes every namespace and every storage class. */
export const coverageCanFail = (rules: CoverageRules): boolean => !rules.veleroAllNamespaces || rules.snapshotStorageClasses !== undefined;
