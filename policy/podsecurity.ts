// Pod Security Standards: pods the program renders into a namespace that enforces `restricted` must
// meet it (else admission rejects them mid-update), and every namespace the stack owns says which
// level it enforces. The Velero chart's pods are read from its values (the mock render and the
// chart resource carry only those), other workloads from their pod templates.
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { isVeleroChart } from "./velero";
import { at, configOf, forTypes, isObj, list, str, type Obj } from "./util";

export const NAMESPACE = "kubernetes:core/v1:Namespace";
export const ENFORCE_LABEL = "pod-security.kubernetes.io/enforce";
const LEVELS = ["privileged", "baseline", "restricted"];

/** Where each workload kind keeps its pod spec. */
const POD_PATHS: Record<string, string[]> = {
    "kubernetes:core/v1:Pod": ["spec"],
    "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
    "kubernetes:apps/v1:StatefulSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:DaemonSet": ["spec", "template", "spec"],
    "kubernetes:apps/v1:ReplicaSet": ["spec", "template", "spec"],
    "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
    "kubernetes:batch/v1:CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** Volume types `restricted` allows; anything else (hostPath first of all) is refused. */
const RESTRICTED_VOLUMES = new Set([
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
]);

/** A pod the stack renders, with the namespace it lands in and a label for messages. */
interface RenderedPod {
    namespace: string;
    where: string;
    pod: Obj;
    /** Set when the pod cannot meet `restricted` whatever its security context (Velero's node agent). */
    impossible?: string;
}

/** The Velero chart's pods as the chart builds them from its values: server with init containers, and the node agent. */
function veleroPods(r: PolicyResource): RenderedPod[] {
    const values = isObj(r.props.values) ? r.props.values : {};
    const namespace = str(r.props.namespace) ?? "default";
    const pods: RenderedPod[] = [
        {
            namespace,
            where: `${r.name} (Velero chart values)`,
            pod: {
                securityContext: values.podSecurityContext,
                initContainers: values.initContainers,
                containers: [{ name: "velero", securityContext: values.containerSecurityContext }],
            },
        },
    ];
    if (values.deployNodeAgent === true)
        pods.push({
            namespace,
            where: `${r.name} (Velero chart values)`,
            pod: {},
            impossible: "deployNodeAgent is true: the node agent mounts the node's pod volumes (hostPath) and runs as root",
        });
    return pods;
}

function renderedPods(resources: PolicyResource[]): RenderedPod[] {
    return resources.flatMap((r): RenderedPod[] => {
        if (isVeleroChart(r)) return veleroPods(r);
        const path = POD_PATHS[r.type];
        const pod = path === undefined ? undefined : at(r.props, ...path);
        if (!isObj(pod)) return [];
        const namespace = str(at(r.props, "metadata", "namespace")) ?? "default";
        return [
            {
                namespace,
                where: `${r.type.split(":").pop() ?? r.type} ${namespace}/${str(at(r.props, "metadata", "name")) ?? r.name}`,
                pod,
            },
        ];
    });
}

/** What `restricted` refuses in one container, given the pod-level security context it inherits from. */
function containerViolations(container: Obj, podContext: unknown): string[] {
    const ctx = isObj(container.securityContext) ? container.securityContext : {};
    const inherited = (key: string): unknown => ctx[key] ?? at(podContext, key);
    const out: string[] = [];
    if (ctx.privileged === true) out.push("is privileged");
    if (ctx.allowPrivilegeEscalation !== false) out.push("does not set allowPrivilegeEscalation: false");
    if (!list(at(ctx, "capabilities", "drop")).includes("ALL")) out.push("does not drop ALL capabilities");
    const added = list(at(ctx, "capabilities", "add")).filter((c) => c !== "NET_BIND_SERVICE");
    if (added.length > 0) out.push(`adds capabilities ${added.map(String).join(", ")}`);
    if (inherited("runAsNonRoot") !== true) out.push("does not set runAsNonRoot: true (on it or on the pod)");
    if (inherited("runAsUser") === 0) out.push("runs as user 0");
    const seccomp = at(ctx, "seccompProfile", "type") ?? at(podContext, "seccompProfile", "type");
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
        out.push("has no RuntimeDefault or Localhost seccomp profile (on it or on the pod)");
    if (list(container.ports).some((p) => typeof at(p, "hostPort") === "number" && at(p, "hostPort") !== 0)) out.push("uses a host port");
    return out;
}

/** Every way one pod falls short of `restricted`. */
function podViolations(pod: Obj): string[] {
    const out: string[] = [];
    for (const key of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[key] === true) out.push(`${key} is true`);
    for (const volume of list(pod.volumes).filter(isObj)) {
        const kinds = Object.keys(volume).filter((k) => k !== "name" && !RESTRICTED_VOLUMES.has(k));
        if (kinds.length > 0) out.push(`volume "${str(volume.name) ?? "?"}" is of type ${kinds.join(", ")}`);
    }
    const kinds: [string, unknown][] = [
        ["init container", pod.initContainers],
        ["container", pod.containers],
        ["ephemeral container", pod.ephemeralContainers],
    ];
    for (const [kind, containers] of kinds)
        for (const c of list(containers).filter(isObj))
            for (const problem of containerViolations(c, pod.securityContext)) out.push(`${kind} "${str(c.name) ?? "?"}" ${problem}`);
    return out;
}

/** The enforce label of every Namespace the stack registers, by name. */
function enforcedLevels(resources: PolicyResource[]): Map<string, unknown> {
    const levels = new Map<string, unknown>();
    for (const r of resources.filter((x) => x.type === NAMESPACE)) {
        const name = str(at(r.props, "metadata", "name"));
        if (name !== undefined) levels.set(name, at(r.props, "metadata", "labels", ENFORCE_LABEL));
    }
    return levels;
}

const RESTRICTED_DEFAULTS = { restrictedNamespaces: [] as string[] };

export const workloadsPodSecurityRestricted: StackValidationPolicy = {
    name: "workloads-pod-security-restricted",
    description:
        "Pods the program renders into a namespace that enforces the restricted Pod Security Standard must meet it, or admission rejects them during the update.",
    remediationSteps:
        "Give every container and init container allowPrivilegeEscalation: false, capabilities.drop [ALL], runAsNonRoot: true and a RuntimeDefault seccomp profile (pod or container), without privileged, hostPath, host namespaces or host ports; or label the namespace with the level its workloads need (Velero's node agent needs privileged).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            restrictedNamespaces: {
                type: "array",
                items: { type: "string" },
                default: RESTRICTED_DEFAULTS.restrictedNamespaces,
                description: "Namespaces the stack does not own that enforce restricted on the cluster (e.g. application namespaces).",
            },
        },
    },
    validateStack: (args, report) => {
        const { restrictedNamespaces } = configOf(args, RESTRICTED_DEFAULTS);
        const levels = enforcedLevels(args.resources);
        const restricted = (ns: string) => levels.get(ns) === "restricted" || (!levels.has(ns) && restrictedNamespaces.includes(ns));
        for (const p of renderedPods(args.resources)) {
            if (!restricted(p.namespace)) continue;
            const problems = p.impossible !== undefined ? [p.impossible] : podViolations(p.pod);
            for (const problem of problems) report(`${p.where}, in restricted namespace ${p.namespace}: ${problem}.`);
        }
    },
};

export const workloadsNamespacePodSecurityLabel: ResourceValidationPolicy = {
    name: "workloads-namespace-pod-security-label",
    description:
        "Every namespace the stack owns must say which Pod Security Standard it enforces, with the pod-security.kubernetes.io/enforce label.",
    remediationSteps: `Label the namespace "${ENFORCE_LABEL}: restricted", or the weaker level its workloads need (Velero's node agent: privileged).`,
    enforcementLevel: "mandatory",
    severity: "medium",
    validateResource: forTypes([NAMESPACE], (args, report) => {
        const level = at(args.props, "metadata", "labels", ENFORCE_LABEL);
        if (level === undefined) report(`namespace has no "${ENFORCE_LABEL}" label: the cluster's default admission level applies.`);
        else if (typeof level !== "string" || !LEVELS.includes(level))
            report(`"${ENFORCE_LABEL}" is ${JSON.stringify(level)}; allowed: ${LEVELS.join(", ")}.`);
    }),
};

export const podSecurityPolicies = [workloadsPodSecurityRestricted, workloadsNamespacePodSecurityLabel];
