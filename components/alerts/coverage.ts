// The PVCs no backup covers, as one PromQL expression: the coverage alert's and the dashboard's coverage panel's.
import { type CoverageRules } from "../../core/coverage";
import { KSM_CNPG_CLUSTER, KSM_OPT_OUT } from "./ksm";

/** A string as a literal inside a PromQL regex matcher: RE2 metacharacters escaped, the escape doubled for the "..." string. */
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\\\${c}`);

/**
 * PVCs no backup covers, one series each, by the rules `npm run verify` applies (components/coverage.ts): every PVC,
 * unless it is in a Velero namespace (with a snapshot StorageClass when those are listed), belongs to a backed-up or
 * drill CNPG cluster, is a SQL Server volume, or carries the opt-out annotation with a reason. `max by` folds
 * kube-state-metrics replicas. The alert and the dashboard's coverage panel share it.
 */
export function uncoveredPvcsExpr(c: CoverageRules): string {
    const on = "on (namespace, persistentvolumeclaim)";
    const info = (matchers: string) => `kube_persistentvolumeclaim_info${matchers === "" ? "" : `{${matchers}}`}`;
    const anyOf = (values: readonly string[]) => values.map(reEscape).join("|");
    const covered: string[] = [];
    const velero = [
        ...(c.veleroAllNamespaces ? [] : [`namespace=~"${anyOf(c.veleroNamespaces)}"`]),
        ...(c.snapshotStorageClasses ? [`storageclass=~"${anyOf(c.snapshotStorageClasses)}"`] : []),
    ];
    if (c.veleroAllNamespaces || c.veleroNamespaces.length > 0) covered.push(info(velero.join(",")));
    const byNamespace = new Map<string, string[]>();
    for (const cl of c.clusters) byNamespace.set(cl.namespace, [...(byNamespace.get(cl.namespace) ?? []), cl.name]);
    for (const [ns, names] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b)))
        covered.push(`kube_persistentvolumeclaim_labels{namespace="${ns}",${KSM_CNPG_CLUSTER}=~"${anyOf([...names].sort())}"}`);
    for (const m of c.mssql) covered.push(info(`namespace="${m.namespace}",persistentvolumeclaim=~".*-${reEscape(m.host)}-[0-9]+"`));
    covered.push(`kube_persistentvolumeclaim_annotations{${KSM_OPT_OUT}!=""}`);
    return `max by (namespace, persistentvolumeclaim, storageclass) (${info("")} ${covered.map((x) => `unless ${on} ${x}`).join(" ")})`;
}
