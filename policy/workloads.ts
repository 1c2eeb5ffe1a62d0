// Workloads the program runs (backup CronJobs and Jobs, chart-rendered Deployments): pinned images,
// non-root, bounded resources.
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { at, forTypes, isObj, list, str, text, unpinnedReason, type Obj } from "./util";

export const WORKLOADS = {
    cronJob: "kubernetes:batch/v1:CronJob",
    job: "kubernetes:batch/v1:Job",
    deployment: "kubernetes:apps/v1:Deployment",
} as const;

const WORKLOAD_TYPES = Object.values(WORKLOADS);

/** The pod spec inside a workload. */
function podSpec(args: ResourceValidationArgs): Obj | undefined {
    const spec: unknown =
        args.type === WORKLOADS.cronJob
            ? at(args.props, "spec", "jobTemplate", "spec", "template", "spec")
            : at(args.props, "spec", "template", "spec");
    return isObj(spec) ? spec : undefined;
}

/** Every container and init container, labelled for messages. */
function containers(pod: Obj): { label: string; container: Obj }[] {
    const named = (kind: string) => (c: Obj) => ({ label: `${kind} "${str(c.name) ?? "?"}"`, container: c });
    return [
        ...list(pod.initContainers).filter(isObj).map(named("init container")),
        ...list(pod.containers).filter(isObj).map(named("container")),
    ];
}

export const workloadsContainerImagePinned: ResourceValidationPolicy = {
    name: "workloads-container-image-pinned",
    description: "Every container image must be pinned to a version tag or a digest, never to latest or to no tag at all.",
    remediationSteps:
        'Use an explicit tag (e.g. "velero/velero:v1.17.0") or a digest ("...@sha256:<digest>") for every container and init container.',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(WORKLOAD_TYPES, (args, report) => {
        const pod = podSpec(args);
        if (pod === undefined) return;
        for (const { label, container } of containers(pod)) {
            const image = text(container.image);
            if (image === undefined) report(`${label} has no image.`);
            else {
                const reason = unpinnedReason(image);
                if (reason !== undefined) report(`${label} image "${image}" ${reason}.`);
            }
        }
    }),
};

export const workloadsPodRunAsNonRoot: ResourceValidationPolicy = {
    name: "workloads-pod-run-as-non-root",
    description: "Every container must run with runAsNonRoot, set on the pod or on the container.",
    remediationSteps: "Set `securityContext.runAsNonRoot: true` (and a non-zero runAsUser) on the pod spec, or on each container.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(WORKLOAD_TYPES, (args, report) => {
        const pod = podSpec(args);
        if (pod === undefined) return;
        const podLevel = at(pod, "securityContext", "runAsNonRoot");
        for (const { label, container } of containers(pod)) {
            // A container's own setting overrides the pod's.
            const own = at(container, "securityContext", "runAsNonRoot");
            if ((own ?? podLevel) !== true) report(`${label} may run as root: runAsNonRoot is not true on it or on the pod.`);
        }
    }),
};

export const workloadsContainerResourceLimits: ResourceValidationPolicy = {
    name: "workloads-container-resource-limits",
    description: "Every container should set CPU and memory limits, so a runaway backup cannot starve the node.",
    remediationSteps: "Set `resources.limits.cpu` and `resources.limits.memory` on every container and init container.",
    enforcementLevel: "advisory",
    severity: "medium",
    validateResource: forTypes(WORKLOAD_TYPES, (args, report) => {
        const pod = podSpec(args);
        if (pod === undefined) return;
        for (const { label, container } of containers(pod)) {
            const missing = ["cpu", "memory"].filter((r) => at(container, "resources", "limits", r) === undefined);
            if (missing.length > 0) report(`${label} has no ${missing.join(" or ")} limit.`);
        }
    }),
};

export const workloadPolicies: ResourceValidationPolicy[] = [
    workloadsContainerImagePinned,
    workloadsPodRunAsNonRoot,
    workloadsContainerResourceLimits,
];
