import * as assert from "assert";
import * as s3 from "../s3";
import * as fx from "./fixtures";
import { changed, expectOne, runResource } from "./harness";

describe("s3 policies", () => {
    describe("s3-bucket-no-force-destroy", () => {
        it("passes the program's bucket", () => expectOne(s3.s3BucketNoForceDestroy, fx.bucket()));
        it("fails forceDestroy: true", () =>
            expectOne(s3.s3BucketNoForceDestroy, changed(fx.bucket(), ["props", "forceDestroy"], true), /forceDestroy is true/));
        it("ignores other resource types", () =>
            expectOne(s3.s3BucketNoForceDestroy, { type: "aws:iam/user:User", props: { forceDestroy: true } }));
    });

    describe("s3-bucket-retain-on-delete", () => {
        const policy = s3.s3BucketRetainOnDelete;
        it("passes a retained bucket", () => expectOne(policy, fx.bucket()));
        it("passes a protected bucket that is not retained", () =>
            expectOne(policy, changed(fx.bucket(), ["opts"], { protect: true, retainOnDelete: false })));
        it("fails retainOnDelete: false without protect", () =>
            expectOne(policy, changed(fx.bucket(), ["opts", "retainOnDelete"], false), /neither protected nor retained/));
        it("is not applicable when retainOnDelete is invisible (the CLI) and protect is off", async () => {
            const outcome = await runResource(policy, changed(fx.bucket(), ["opts"], {}));
            assert.deepStrictEqual(outcome.violations, []);
            assert.match(outcome.notApplicable ?? "", /retainOnDelete is not visible/);
        });
        it("passes a protected bucket when retainOnDelete is invisible", () =>
            expectOne(policy, changed(fx.bucket(), ["opts"], { protect: true })));
    });

    describe("s3-encryption-kms-required", () => {
        const policy = s3.s3EncryptionKmsRequired;
        const algorithm = ["props", "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm"];
        it("passes SSE-KMS with a bucket key", () => expectOne(policy, fx.encryption()));
        it("fails SSE-S3 by default", () =>
            expectOne(policy, changed(fx.encryption(), algorithm, "AES256"), /default encryption is AES256/));
        it("passes SSE-S3 when allowAes256 is set", () =>
            expectOne(policy, { ...changed(fx.encryption(), algorithm, "AES256"), config: { allowAes256: true } }));
        it("fails a rule without a default algorithm", () =>
            expectOne(policy, changed(fx.encryption(), ["props", "rules", 0, "applyServerSideEncryptionByDefault"], undefined), /not set/));
        it("fails a configuration without rules", () => expectOne(policy, changed(fx.encryption(), ["props", "rules"], []), /no rules/));
    });

    describe("s3-versioning-enabled", () => {
        const policy = s3.s3VersioningEnabled;
        it("passes Enabled", () => expectOne(policy, fx.versioning()));
        it("fails Suspended", () =>
            expectOne(
                policy,
                changed(fx.versioning(), ["props", "versioningConfiguration", "status"], "Suspended"),
                /Suspended, not Enabled/,
            ));
        it("fails a missing configuration", () =>
            expectOne(policy, changed(fx.versioning(), ["props", "versioningConfiguration"], undefined), /undefined/));
    });

    describe("s3-public-access-block-all", () => {
        const policy = s3.s3PublicAccessBlockAll;
        it("passes all four flags", () => expectOne(policy, fx.publicAccessBlock()));
        for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"])
            it(`fails ${flag}: false`, () =>
                expectOne(policy, changed(fx.publicAccessBlock(), ["props", flag], false), new RegExp(`${flag} not true`)));
    });

    describe("s3-bucket-policy-deny-insecure-transport", () => {
        const policy = s3.s3BucketPolicyDenyInsecureTransport;
        const statement = ["Statement", 0];
        it("passes the program's TLS-only policy", () => expectOne(policy, fx.bucketPolicy()));
        it("fails when the condition is SecureTransport true", () =>
            expectOne(
                policy,
                fx.bucketPolicy(changed(fx.tlsOnlyPolicy, [...statement, "Condition", "Bool", "aws:SecureTransport"], "true")),
                /SecureTransport/,
            ));
        it("fails when the statement allows instead of denies", () =>
            expectOne(policy, fx.bucketPolicy(changed(fx.tlsOnlyPolicy, [...statement, "Effect"], "Allow")), /no statement denies/));
        it("fails a policy that is not JSON", () =>
            expectOne(policy, changed(fx.bucketPolicy(), ["props", "policy"], "{not json"), /not valid JSON/));
    });

    describe("s3-lifecycle-min-expiration", () => {
        const policy = s3.s3LifecycleMinExpiration;
        const days = ["props", "rules", 1, "expiration", "days"];
        it("passes the program's rules (38 days against 30 + 1)", () => expectOne(policy, fx.lifecycle()));
        it("fails 30 days against the default 30 + 1", () =>
            expectOne(policy, changed(fx.lifecycle(), days, 30), /after 30 days, before the 31 days/));
        it("passes 30 days when the stack's retention is 20 days", () =>
            expectOne(policy, { ...changed(fx.lifecycle(), days, 30), config: { retentionDays: 20 } }));
        it("uses baseBackupIntervalDays", () =>
            expectOne(policy, { ...fx.lifecycle(), config: { baseBackupIntervalDays: 9 } }, /after 38 days, before the 39 days/));
        it("does not count delete-marker rules as expiry (outputs carry days 0 there)", () =>
            expectOne(policy, changed(fx.lifecycle(), ["props", "rules", 3, "expiration"], { days: 0, expiredObjectDeleteMarker: true })));
        it("ignores disabled rules", () =>
            expectOne(policy, changed(changed(fx.lifecycle(), days, 1), ["props", "rules", 1, "status"], "Disabled")));
        it("fails a fixed expiry date", () =>
            expectOne(
                policy,
                changed(fx.lifecycle(), ["props", "rules", 1, "expiration"], { date: "2027-01-01T00:00:00Z" }),
                /fixed date/,
            ));
        it("fails an empty rule list", () => expectOne(policy, changed(fx.lifecycle(), ["props", "rules"], []), /no rules/));
    });
});
