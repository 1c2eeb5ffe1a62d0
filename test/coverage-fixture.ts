// One fixture of PersistentVolumeClaims, covered each way, opted out and uncovered, built from a stack's coverage
// rules; from it both the objects `npm run verify` reads (cli/checks.ts) and the kube-state-metrics series the
// PersistentVolumeClaimNotBackedUp alert reads are derived, so the two can be held to the same answer.
import { CNPG_CLUSTER_LABEL, OPT_OUT, type CoverageRules } from "../core/coverage";
import { KSM_CNPG_CLUSTER, KSM_OPT_OUT } from "../components/alerts";
import { type KubeObject } from "../kube/client";

export interface FixturePvc {
    readonly namespace: string;
    readonly name: string;
    readonly storageClassName: string;
    readonly labels: Record<string, string>;
    readonly annotations: Record<string, string>;
    /** Covered by construction (what the fixture means), independent of components/coverage.ts. */
    readonly covered: boolean;
    /** Why, for messages. */
    readonly why: string;
}

/** A name not in `taken`: `base`, else `base-2`, `base-3`... */
const fresh = (base: string, taken: Iterable<string>): string => {
    const t = new Set(taken);
    for (let i = 1; ; i++) if (!t.has(i === 1 ? base : `${base}-${i}`)) return i === 1 ? base : `${base}-${i}`;
};

/** Every way a PVC can be covered under `rules`, and the near misses that are not. */
export function coverageFixture(rules: CoverageRules): FixturePvc[] {
    const listed = rules.snapshotStorageClasses;
    // A class Velero does not snapshot (when classes are checked), and a namespace nothing covers (unless Velero takes
    // every namespace, in which case only the unlisted class leaves a PVC uncovered there).
    const unlisted = fresh("hostpath", listed ?? []);
    const snapshotting = listed?.[0] ?? "ceph-block";
    const everything = rules.veleroAllNamespaces && listed === undefined;
    const scratch = fresh("scratch", [
        ...rules.veleroNamespaces,
        ...rules.clusters.map((c) => c.namespace),
        ...rules.mssql.map((m) => m.namespace),
    ]);
    const pvc = (
        namespace: string,
        name: string,
        covered: boolean,
        why: string,
        more: { storageClassName?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = {},
    ): FixturePvc => ({
        namespace,
        name,
        storageClassName: more.storageClassName ?? unlisted,
        labels: more.labels ?? {},
        annotations: more.annotations ?? {},
        // A full-cluster schedule with no class list takes everything (the example stacks: nothing can be uncovered).
        covered: covered || everything,
        why: !covered && everything ? `${why}; but a full-cluster Velero schedule takes every PVC` : why,
    });
    const out: FixturePvc[] = [
        pvc(scratch, "cache-0", false, "in no Velero namespace, owned by no database, not opted out"),
        pvc(scratch, "tmp-0", true, "opted out with a reason", { annotations: { [OPT_OUT]: "rebuildable cache" } }),
        pvc(scratch, "blank-0", false, "opt-out annotation without a reason", { annotations: { [OPT_OUT]: "" } }),
        pvc(scratch, "stray-pg-1", false, "labelled by a CNPG cluster the stack does not back up", {
            labels: { [CNPG_CLUSTER_LABEL]: "stray-pg" },
        }),
    ];
    for (const c of rules.clusters) {
        out.push(
            pvc(c.namespace, `${c.name}-1`, true, `${c.drill ? "drill" : "CNPG"} cluster ${c.name}`, {
                labels: { [CNPG_CLUSTER_LABEL]: c.name },
            }),
        );
        out.push(
            pvc(scratch, `${c.name}-1`, false, `cluster label ${c.name}, but in another namespace`, {
                labels: { [CNPG_CLUSTER_LABEL]: c.name },
            }),
        );
    }
    for (const m of rules.mssql) {
        out.push(pvc(m.namespace, `data-${m.host}-0`, true, "SQL Server volume"));
        out.push(pvc(scratch, `data-${m.host}-0`, false, "SQL Server volume name, but in another namespace"));
    }
    for (const ns of rules.veleroNamespaces.slice(0, 2)) {
        out.push(pvc(ns, "data-kafka-0", true, "Velero namespace", { storageClassName: snapshotting }));
        if (listed) out.push(pvc(ns, "local-0", false, "Velero namespace, StorageClass Velero does not snapshot"));
    }
    if (rules.veleroAllNamespaces)
        out.push(pvc(scratch, "data-0", true, "a full-cluster Velero schedule", { storageClassName: snapshotting }));
    // Two databases on one SQL Server (one host) give the same near miss twice: keep the first.
    return out.filter((p, i) => out.findIndex((q) => q.namespace === p.namespace && q.name === p.name) === i);
}

/** The fixture as the API server returns the PVCs (what verify reads). */
export const pvcObjects = (pvcs: readonly FixturePvc[]): KubeObject[] =>
    pvcs.map((p) => ({
        metadata: { namespace: p.namespace, name: p.name, labels: { ...p.labels }, annotations: { ...p.annotations } },
        spec: { storageClassName: p.storageClassName, accessModes: ["ReadWriteOnce"] },
    }));

/**
 * The fixture as kube-state-metrics exports it with the allow-lists of KSM_ALLOWLISTS (kube-state-metrics
 * docs/metrics/storage/persistentvolumeclaim-metrics.md: _info has namespace, persistentvolumeclaim, storageclass,
 * volumename (and volumemode in 2.x); _labels / _annotations carry label_<key> / annotation_<key>, the key's
 * non-alphanumerics turned into '_'), scraped by kube-prometheus-stack's ServiceMonitor (job, instance; honorLabels keeps
 * namespace). An annotation with an empty value is a label with an empty value, i.e. absent in Prometheus.
 */
export function ksmPvcSeries(pvcs: readonly FixturePvc[]): Record<string, string>[] {
    const scrape = { job: "kube-state-metrics", instance: "10.0.3.4:8080" };
    return pvcs.flatMap((p, i) => {
        const id = { namespace: p.namespace, persistentvolumeclaim: p.name };
        const cluster = p.labels[CNPG_CLUSTER_LABEL];
        const why = p.annotations[OPT_OUT];
        return [
            {
                __name__: "kube_persistentvolumeclaim_info",
                ...id,
                storageclass: p.storageClassName,
                volumename: `pvc-${String(i).padStart(8, "0")}-0000-4000-8000-000000000000`,
                volumemode: "Filesystem",
                ...scrape,
            },
            { __name__: "kube_persistentvolumeclaim_labels", ...id, ...(cluster ? { [KSM_CNPG_CLUSTER]: cluster } : {}), ...scrape },
            { __name__: "kube_persistentvolumeclaim_annotations", ...id, ...(why ? { [KSM_OPT_OUT]: why } : {}), ...scrape },
        ];
    });
}
