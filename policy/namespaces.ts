// Namespaces: one the stack registers may hold what other teams put there (databases, their
// Secrets); `pulumi destroy` or a changed key must never delete it.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { NAMESPACE } from "./podsecurity";
import { forTypes, type OptionsWithRetain } from "./util";

export const kubernetesNamespaceRetainOnDelete: ResourceValidationPolicy = {
    name: "kubernetes-namespace-retain-on-delete",
    description:
        "Namespaces the stack registers must be retained on delete (or protected), so a destroy or a changed namespace key never deletes a namespace and everything in it.",
    remediationSteps:
        "Register the Namespace with `retainOnDelete: true` (the program does for every namespace it creates or adopts); delete a namespace by hand when it is really no longer needed.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes([NAMESPACE], (args, report) => {
        const opts = args.opts as OptionsWithRetain;
        if (opts.protect || opts.retainOnDelete === true) return;
        // As for buckets: @pulumi/policy 1.21 does not pass retainOnDelete to policies under the CLI.
        if (opts.retainOnDelete === undefined)
            args.notApplicable("retainOnDelete is not visible to policy packs (@pulumi/policy 1.21) and protect is not set");
        report("the namespace is neither retained on delete nor protected: `pulumi destroy` would delete it and every object in it.");
    }),
};

export const namespacePolicies: ResourceValidationPolicy[] = [kubernetesNamespaceRetainOnDelete];
