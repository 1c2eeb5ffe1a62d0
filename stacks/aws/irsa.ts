// IAM Roles for Service Accounts on EKS: the cluster's OIDC provider, and roles that exactly one
// service account can assume.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AwsConfig } from "../../config";
import { policyJson, type Statement } from "../s3/bucket";

/** The cluster's OIDC issuer (host/path, no scheme) and the ARN of its IAM OIDC provider. */
export interface Oidc {
    readonly issuer: pulumi.Output<string>;
    readonly providerArn: pulumi.Output<string>;
}

/** The cluster's OIDC issuer and provider ARN, given or looked up (`opts`: the lookups' parent and provider). */
export function eksOidc(cfg: AwsConfig, partition: string, opts: pulumi.InvokeOutputOptions): Oidc {
    if ("oidcProviderArn" in cfg.aws.eks) {
        return {
            issuer: pulumi.output(cfg.aws.eks.oidcIssuerUrl.replace(/^https:\/\//, "").replace(/\/$/, "")),
            providerArn: pulumi.output(cfg.aws.eks.oidcProviderArn),
        };
    }
    const clusterName = cfg.aws.eks.clusterName;
    const cluster = aws.eks.getClusterOutput({ name: clusterName }, opts);
    const issuer = cluster.identities.apply((ids) => {
        const url = ids[0]?.oidcs[0]?.issuer;
        if (!url) throw new Error(`EKS cluster "${clusterName}" (backup:aws.eks.clusterName) has no OIDC issuer; enable IRSA on it`);
        return url.replace(/^https:\/\//, "");
    });
    const account = aws.getCallerIdentityOutput({}, opts).accountId;
    return { issuer, providerArn: pulumi.interpolate`arn:${partition}:iam::${account}:oidc-provider/${issuer}` };
}

/** A role only `sa` can assume, with one inline-equivalent policy; the ARN waits for the attachment. */
export function irsaRole(
    id: string,
    oidc: Oidc,
    sa: { namespace: string; name: string },
    statements: pulumi.Output<Statement[]>,
    child: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
    const role = new aws.iam.Role(
        id,
        {
            path: "/backup/",
            assumeRolePolicy: pulumi.all([oidc.issuer, oidc.providerArn]).apply(([issuer, arn]) =>
                policyJson([
                    {
                        Effect: "Allow",
                        Principal: { Federated: arn },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: {
                            StringEquals: {
                                [`${issuer}:sub`]: `system:serviceaccount:${sa.namespace}:${sa.name}`,
                                [`${issuer}:aud`]: "sts.amazonaws.com",
                            },
                        },
                    },
                ]),
            ),
        },
        child,
    );
    const policy = new aws.iam.Policy(id, { path: "/backup/", policy: statements.apply(policyJson) }, child);
    const attachment = new aws.iam.RolePolicyAttachment(id, { role: role.name, policyArn: policy.arn }, child);
    return pulumi.all([role.arn, attachment.id]).apply(([arn]) => arn);
}
