// The namespaces this program creates (Velero's; bare metal's off-site copy): adopted when they already exist, never
// deleted, and labelled with the Pod Security Standard their workloads meet.
import * as k8s from "@pulumi/kubernetes";
import { owned } from "../core/ownership";

/** A Pod Security Standard level (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
export type PodSecurityLevel = "restricted" | "baseline" | "privileged";

/**
 * The policy version the workloads were checked against (the Kubernetes the real-engine tests run). Pinned, so a
 * cluster upgrade that tightens a level does not start refusing pods that ran the day before; raise it after checking.
 */
export const POD_SECURITY_VERSION = "v1.35";

/** Pod Security admission labels: refuse (`enforce`), and report to the user (`warn`) and the audit log, at `level`. */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const mode of ["enforce", "warn", "audit"] as const) {
        labels[`pod-security.kubernetes.io/${mode}`] = level;
        labels[`pod-security.kubernetes.io/${mode}-version`] = POD_SECURITY_VERSION;
    }
    return labels;
}

/**
 * Registers namespace `namespace` as Pulumi resource `name`, at Pod Security `level`.
 *
 * `retainOnDelete` always, whatever `dataSafety` says: the namespace may have existed before (server-side apply adopts
 * it) and may hold what is not this stack's, the retained Secrets and bucket credentials of this stack included, so
 * neither `pulumi destroy` nor a changed key ever deletes it; README "Namespaces" says how to remove one by hand.
 * Top-level, never a component's child: a new parent would change the URN, and the engine would replace the namespace.
 */
export function ownedNamespace(name: string, namespace: string, level: PodSecurityLevel, provider: k8s.Provider): k8s.core.v1.Namespace {
    return new k8s.core.v1.Namespace(
        name,
        { metadata: owned({ name: namespace, labels: podSecurityLabels(level) }) },
        { provider, retainOnDelete: true },
    );
}
