import * as iam from "../iam";
import * as fx from "./fixtures";
import { changed, expectOne } from "./harness";

const firstStatement = (field: string, value: unknown) => fx.iamPolicy(changed(fx.cnpgPermissions, ["Statement", 0, field], value));

describe("iam policies", () => {
    describe("iam-policy-no-wildcard-actions", () => {
        const policy = iam.iamPolicyNoWildcardActions;
        it("passes the CNPG role's policy", () => expectOne(policy, fx.iamPolicy()));
        it('fails Action "*"', () => expectOne(policy, firstStatement("Action", "*"), /statement BarmanObjects allows "\*"/));
        it('fails Action "s3:*" in any case', () => expectOne(policy, firstStatement("Action", ["S3:*"]), /allows "s3:\*"/));
        it("fails an Allow by NotAction", () => expectOne(policy, firstStatement("NotAction", ["iam:*"]), /NotAction/));
        it('passes a Deny of "s3:*" (the TLS-only pattern)', () => expectOne(policy, fx.iamPolicy(fx.tlsOnlyPolicy)));
        it("checks user and role inline policies too", async () => {
            const doc = JSON.stringify(changed(fx.cnpgPermissions, ["Statement", 0, "Action"], "*"));
            await expectOne(policy, { type: "aws:iam/userPolicy:UserPolicy", props: { user: "u", policy: doc } }, /allows "\*"/);
            await expectOne(policy, { type: "aws:iam/rolePolicy:RolePolicy", props: { role: "r", policy: doc } }, /allows "\*"/);
            await expectOne(
                policy,
                { type: "aws:iam/role:Role", props: { assumeRolePolicy: "{}", inlinePolicies: [{ name: "x", policy: doc }] } },
                /inline policy "x"/,
            );
        });
        it("fails a document that is not JSON", () =>
            expectOne(policy, changed(fx.iamPolicy(), ["props", "policy"], "Statement:"), /not valid JSON/));
    });

    describe("iam-policy-no-s3-wildcard-resource", () => {
        const policy = iam.iamPolicyNoS3WildcardResource;
        it("passes the CNPG role's policy (EC2 on * is not S3)", () => expectOne(policy, fx.iamPolicy()));
        it('fails S3 actions on Resource "*"', () => expectOne(policy, firstStatement("Resource", "*"), /on every resource/));
        it('fails S3 actions on "arn:aws:s3:::*"', () =>
            expectOne(policy, firstStatement("Resource", ["arn:aws:s3:::*"]), /on every resource/));
        it("fails S3 actions by NotResource", () =>
            expectOne(policy, firstStatement("NotResource", "arn:aws:s3:::other/*"), /NotResource/));
    });

    describe("iam-policy-s3-action-wildcards", () => {
        const policy = iam.iamPolicyS3ActionWildcards;
        it("passes exact action names", () => expectOne(policy, fx.iamPolicy()));
        it('flags "s3:*Object"', () => expectOne(policy, firstStatement("Action", ["s3:*Object"]), /s3:\*object/));
        it('leaves "s3:*" to the mandatory policy', () => expectOne(policy, firstStatement("Action", "s3:*")));
    });

    describe("iam-role-irsa-trust-pinned", () => {
        const policy = iam.iamRoleIrsaTrustPinned;
        const condition = ["Statement", 0, "Condition"];
        const trust = (path: string[], value: unknown) => fx.irsaRole(changed(fx.irsaTrust, [...condition, ...path], value));
        it("passes the program's trust policy", () => expectOne(policy, fx.irsaRole()));
        it("fails a wildcard subject", () =>
            expectOne(policy, trust(["StringEquals", fx.SUB], "system:serviceaccount:velero:*"), /exactly one/));
        it("fails two subjects", () =>
            expectOne(policy, trust(["StringEquals", fx.SUB], ["system:serviceaccount:a:b", "system:serviceaccount:c:d"]), /exactly one/));
        it("fails a subject that is not a service account", () =>
            expectOne(policy, trust(["StringEquals", fx.SUB], "velero-server"), /exactly one/));
        it("fails a missing subject", () =>
            expectOne(policy, trust(["StringEquals", fx.SUB], undefined), /no StringEquals condition on "<issuer>:sub"/));
        it("fails a missing audience", () =>
            expectOne(policy, trust(["StringEquals", fx.AUD], undefined), /no StringEquals condition on "<issuer>:aud"/));
        it("fails another audience", () =>
            expectOne(policy, trust(["StringEquals", fx.AUD], "sts.example.com"), /must be "sts.amazonaws.com"/));
        it("fails StringLike on the subject, even next to StringEquals", () =>
            expectOne(
                policy,
                trust(["StringLike"], { [fx.SUB]: "system:serviceaccount:velero:velero-server" }),
                /StringLike on .* not an exact match/,
            ));
        it("fails sub and aud of different issuers", () =>
            expectOne(
                policy,
                trust(["StringEquals"], {
                    [fx.SUB]: "system:serviceaccount:velero:velero-server",
                    "other.example.com:aud": "sts.amazonaws.com",
                }),
                /different issuers/,
            ));
        it("ignores trust statements that are not web identity", () =>
            expectOne(
                policy,
                fx.irsaRole({ Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] }),
            ));
    });

    describe("iam-policy-ec2-mutations-scoped", () => {
        const policy = iam.iamPolicyEc2MutationsScoped;
        const snapshots = (i: number, field: string, value: unknown) =>
            fx.iamPolicy(changed(fx.veleroSnapshotPermissions, ["Statement", i, field], value));
        const DELETE = 6;
        it("passes Velero's tag-scoped native-snapshot statements", () => expectOne(policy, fx.iamPolicy(fx.veleroSnapshotPermissions)));
        it("passes Describe* on * (no resource-level permissions there)", () => expectOne(policy, snapshots(0, "Condition", undefined)));
        it("fails DeleteSnapshot without its tag condition", () =>
            expectOne(
                policy,
                snapshots(DELETE, "Condition", undefined),
                /DeleteVeleroSnapshots allows ec2:deletesnapshot on "arn:aws:ec2:af-south-1::snapshot\/\*" without a tag/,
            ));
        it('fails DeleteSnapshot on "*" with only a region condition (the program before this check)', () =>
            expectOne(
                policy,
                fx.iamPolicy(
                    changed(
                        changed(fx.veleroSnapshotPermissions, ["Statement", DELETE, "Resource"], "*"),
                        ["Statement", DELETE, "Condition"],
                        { StringEquals: { "aws:RequestedRegion": "af-south-1" } },
                    ),
                ),
                /on "\*" without a tag or creation-action condition/,
            ));
        it("fails a Null condition that requires the tag to be absent", () =>
            expectOne(policy, snapshots(DELETE, "Condition", { Null: { "ec2:ResourceTag/velero.io/backup": "true" } }), /without a tag/));
        it('fails "ec2:*" on "*"', () => expectOne(policy, snapshots(0, "Action", "ec2:*"), /allows ec2:\* on "\*"/));
        it('fails "ec2:Delete*" patterns too', () =>
            expectOne(policy, snapshots(0, "Action", ["ec2:Delete*", "ec2:DescribeVolumes"]), /allows ec2:delete\*/));
        it("fails an Allow by NotResource", () => {
            const unscoped = changed(fx.veleroSnapshotPermissions, ["Statement", DELETE, "Condition"], undefined);
            const doc = changed(changed(unscoped, ["Statement", DELETE, "Resource"], undefined), ["Statement", DELETE, "NotResource"], "x");
            return expectOne(policy, fx.iamPolicy(doc), /ec2:deletesnapshot on NotResource/);
        });
    });

    describe("iam-policy-kms-through-s3", () => {
        const policy = iam.iamPolicyKmsThroughS3;
        const consumer = (field: string, value: unknown) => fx.iamPolicy(changed(fx.kmsPermissions, ["Statement", 0, field], value));
        const condition = (path: string[], value: unknown) =>
            fx.iamPolicy(changed(fx.kmsPermissions, ["Statement", 0, "Condition", ...path], value));
        it("passes a consumer's grant through S3 and replication's Encrypt through S3", () =>
            expectOne(policy, fx.iamPolicy(fx.kmsPermissions)));
        it("passes with the encryption context alone", () => expectOne(policy, condition(["StringEquals"], undefined)));
        it("passes with kms:ViaService alone", () => expectOne(policy, condition(["StringLike"], undefined)));
        it("fails a grant without either condition (the program before this check)", () =>
            expectOne(
                policy,
                consumer("Condition", undefined),
                /UseBucketKeyThroughS3 allows kms:decrypt, kms:generatedatakey without a kms:ViaService/,
            ));
        it("fails kms:ReEncryptFrom", () =>
            expectOne(
                policy,
                consumer("Action", ["kms:Decrypt", "kms:ReEncryptFrom"]),
                /allows kms:reencryptfrom: no backup reader or writer/,
            ));
        it('fails "kms:ReEncrypt*"', () => expectOne(policy, consumer("Action", ["kms:ReEncrypt*"]), /kms:reencryptfrom, kms:reencryptto/));
        it("fails kms:Encrypt with kms:ViaService alone", () =>
            expectOne(
                policy,
                fx.iamPolicy(changed(fx.kmsPermissions, ["Statement", 1, "Condition", "StringLike"], undefined)),
                /EncryptReplicas allows kms:Encrypt without both/,
            ));
        it("fails a consumer's kms:Encrypt through S3 without the encryption context", () => {
            const viaServiceOnly = changed(fx.kmsPermissions, ["Statement", 0, "Condition", "StringLike"], undefined);
            return expectOne(
                policy,
                fx.iamPolicy(changed(viaServiceOnly, ["Statement", 0, "Action"], ["kms:Encrypt"])),
                /allows kms:Encrypt without both/,
            );
        });
        it("ignores KMS actions that use no key material (DescribeKey)", () => {
            const unconditioned = changed(fx.kmsPermissions, ["Statement", 0, "Condition"], undefined);
            return expectOne(policy, fx.iamPolicy(changed(unconditioned, ["Statement", 0, "Action"], "kms:DescribeKey")));
        });
    });
});
