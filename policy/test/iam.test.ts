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
});
