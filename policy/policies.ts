// Every policy of the pack, in one list (index.ts serves it; tests import it without serving).
import type { Policies } from "@pulumi/policy";
import { cephPolicies } from "./ceph";
import { cnpgPolicies } from "./cnpg";
import { iamPolicies } from "./iam";
import { namespacePolicies } from "./namespaces";
import { podSecurityPolicies } from "./podsecurity";
import { s3Policies } from "./s3";
import { stackPolicies } from "./stack";
import { veleroPolicies } from "./velero";
import { workloadPolicies } from "./workloads";

export const policies: Policies = [
    ...s3Policies,
    ...iamPolicies,
    ...cephPolicies,
    ...cnpgPolicies,
    ...veleroPolicies,
    ...workloadPolicies,
    ...podSecurityPolicies,
    ...namespacePolicies,
    ...stackPolicies,
];
