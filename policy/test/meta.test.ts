// Every policy of the pack: named <area>-<resource>-<rule>, described in sentences, with remediation
// text, defaults for its config, and the enforcement level it is meant to have.
import * as assert from "assert";
import type { EnforcementLevel } from "@pulumi/policy";
import { policies } from "../policies";

/** The intended level of every policy: mandatory where data or access is at stake. */
const INTENDED: Record<string, EnforcementLevel> = {
    "s3-bucket-no-force-destroy": "mandatory",
    "s3-bucket-retain-on-delete": "mandatory",
    "s3-encryption-kms-required": "mandatory",
    "s3-versioning-enabled": "mandatory",
    "s3-public-access-block-all": "mandatory",
    "s3-bucket-policy-deny-insecure-transport": "mandatory",
    "s3-lifecycle-min-expiration": "mandatory",
    "iam-policy-no-wildcard-actions": "mandatory",
    "iam-policy-no-s3-wildcard-resource": "mandatory",
    "iam-policy-s3-action-wildcards": "advisory",
    "iam-role-irsa-trust-pinned": "mandatory",
    "iam-policy-ec2-mutations-scoped": "mandatory",
    "iam-policy-kms-through-s3": "mandatory",
    "ceph-objectstoreuser-no-capabilities": "mandatory",
    "ceph-objectbucketclaim-bucket-owner": "mandatory",
    "ceph-objectbucketclaim-lifecycle-min-expiration": "mandatory",
    "cnpg-scheduledbackup-six-field-schedule": "mandatory",
    "cnpg-cluster-retention-policy": "mandatory",
    "cnpg-objectstore-retention-policy": "mandatory",
    "cnpg-cluster-in-tree-barman-deprecated": "advisory",
    "velero-schedule-ttl-required": "mandatory",
    "velero-schedule-five-field-cron": "mandatory",
    "velero-schedule-storage-location": "advisory",
    "velero-chart-credentials-irsa-conflict": "mandatory",
    "workloads-container-image-pinned": "mandatory",
    "workloads-pod-run-as-non-root": "mandatory",
    "workloads-container-resource-limits": "advisory",
    "workloads-pod-security-restricted": "mandatory",
    "workloads-namespace-pod-security-label": "mandatory",
    "kubernetes-namespace-retain-on-delete": "mandatory",
    "stack-s3-bucket-guardrails": "mandatory",
    "stack-cnpg-backup-pairing": "mandatory",
};

const AREAS = ["s3", "iam", "ceph", "cnpg", "velero", "workloads", "kubernetes", "stack"];
const SENTENCE = /^[A-Z`].*[.]$/s;

describe("the pack's policies", () => {
    it("are exactly the intended set, with unique names", () => {
        const names = policies.map((p) => p.name);
        assert.strictEqual(new Set(names).size, names.length, "duplicate policy names");
        assert.deepStrictEqual([...names].sort(), Object.keys(INTENDED).sort());
    });

    for (const policy of policies) {
        describe(policy.name, () => {
            it("is named <area>-<resource>-<rule> in kebab case", () => {
                assert.match(policy.name, /^[a-z0-9]+(-[a-z0-9]+)+$/);
                assert.ok(policy.name.split("-").length >= 3, "at least area, resource and rule");
                assert.ok(AREAS.includes(policy.name.split("-")[0]), `area prefix is one of ${AREAS.join(", ")}`);
            });
            it("has a one-sentence description and remediation steps", () => {
                assert.match(policy.description, SENTENCE);
                assert.match(policy.remediationSteps ?? "", SENTENCE);
            });
            it(`is ${INTENDED[policy.name]}`, () => assert.strictEqual(policy.enforcementLevel, INTENDED[policy.name]));
            it("gives every config property a default (the CLI passes only what the user sets)", () => {
                for (const [key, schema] of Object.entries(policy.configSchema?.properties ?? {})) {
                    assert.notStrictEqual(key, "enforcementLevel");
                    assert.ok(schema.default !== undefined, `${key} has no default`);
                }
            });
        });
    }
});
