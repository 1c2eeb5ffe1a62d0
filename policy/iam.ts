// IAM: permission documents stay least-privilege, and IRSA trust policies name exactly one
// service account and the STS audience.
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { actionCovers, actionsOf, conditionEntries, forTypes, isAllow, isObj, list, statementsOf, str, type Obj } from "./util";

export const IAM = {
    /** Resources whose `policy` is a permission document. */
    inline: ["aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/groupPolicy:GroupPolicy"],
    role: "aws:iam/role:Role",
} as const;

const PERMISSION_TYPES = [...IAM.inline, IAM.role];

/** Every permission document a resource carries, labelled for messages. */
function permissionDocuments(args: ResourceValidationArgs): { label: string; policy: unknown }[] {
    if (args.type === IAM.role)
        return list(args.props.inlinePolicies)
            .filter(isObj)
            .map((p) => ({ label: `inline policy "${str(p.name) ?? "?"}"`, policy: p.policy }));
    return [{ label: "policy", policy: args.props.policy }];
}

/** Runs `check` on every Allow statement of every permission document; reports unreadable documents. */
function eachAllow(args: ResourceValidationArgs, report: (message: string) => void, check: (statement: Obj, where: string) => void): void {
    for (const doc of permissionDocuments(args)) {
        const parsed = statementsOf(doc.policy);
        if ("error" in parsed) {
            report(`${doc.label}: ${parsed.error}.`);
            continue;
        }
        parsed.statements.forEach((statement, i) => {
            if (isAllow(statement)) check(statement, `${doc.label}, statement ${str(statement.Sid) ?? `#${i + 1}`}`);
        });
    }
}

export const iamPolicyNoWildcardActions: ResourceValidationPolicy = {
    name: "iam-policy-no-wildcard-actions",
    description: 'IAM policies must not allow every action ("*") or every S3 action ("s3:*"), nor allow by NotAction.',
    remediationSteps: "List the actions the backup writer needs (see stacks/actions.ts for each consumer's set) instead of a wildcard.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(PERMISSION_TYPES, (args, report) =>
        eachAllow(args, report, (statement, where) => {
            const wild = actionsOf(statement).filter((a) => a === "*" || a === "s3:*");
            if (wild.length > 0) report(`${where} allows ${wild.map((a) => `"${a}"`).join(", ")}.`);
            if (statement.NotAction !== undefined) report(`${where} allows by NotAction, i.e. every action but the listed ones.`);
        }),
    ),
};

/** True for "*" and "arn:<partition>:s3:::*" (every bucket and object). */
function everyS3Resource(resource: unknown): boolean {
    return resource === "*" || (typeof resource === "string" && /^arn:aws[a-z-]*:s3:::\*$/.test(resource));
}

export const iamPolicyNoS3WildcardResource: ResourceValidationPolicy = {
    name: "iam-policy-no-s3-wildcard-resource",
    description: 'IAM policies must not allow S3 actions on every resource ("*"); grants name the backup bucket and prefix.',
    remediationSteps: 'Scope the statement to `arn:aws:s3:::<bucket>` and `arn:aws:s3:::<bucket>/<prefix>/*` instead of "*".',
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(PERMISSION_TYPES, (args, report) =>
        eachAllow(args, report, (statement, where) => {
            const s3 = actionsOf(statement).filter((a) => a.startsWith("s3:"));
            if (s3.length === 0) return;
            if (list(statement.Resource).some(everyS3Resource)) report(`${where} allows ${s3.join(", ")} on every resource.`);
            if (statement.NotResource !== undefined)
                report(`${where} allows ${s3.join(", ")} by NotResource, i.e. on every other resource.`);
        }),
    ),
};

export const iamPolicyS3ActionWildcards: ResourceValidationPolicy = {
    name: "iam-policy-s3-action-wildcards",
    description: 'IAM policies should name S3 actions exactly rather than by patterns such as "s3:Get*" or "s3:*Object".',
    remediationSteps: "Replace the pattern by the actions it is meant to cover; patterns silently grow when AWS adds actions.",
    enforcementLevel: "advisory",
    severity: "low",
    validateResource: forTypes(PERMISSION_TYPES, (args, report) =>
        eachAllow(args, report, (statement, where) => {
            const patterns = actionsOf(statement).filter((a) => a.startsWith("s3:") && a !== "s3:*" && /[*?]/.test(a));
            if (patterns.length > 0) report(`${where} allows S3 action patterns ${patterns.join(", ")}.`);
        }),
    ),
};

const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Violations of one web-identity trust statement. */
function irsaViolations(statement: Obj): string[] {
    const out: string[] = [];
    const condition = isObj(statement.Condition) ? statement.Condition : {};
    const equals = isObj(condition.StringEquals) ? condition.StringEquals : {};
    for (const [operator, block] of Object.entries(condition)) {
        if (operator === "StringEquals" || !isObj(block)) continue;
        for (const key of Object.keys(block))
            if (key.endsWith(":sub") || key.endsWith(":aud"))
                out.push(`${operator} on "${key}" is not an exact match; use StringEquals so only the named value is accepted.`);
    }
    const subKeys = Object.keys(equals).filter((k) => k.endsWith(":sub"));
    const audKeys = Object.keys(equals).filter((k) => k.endsWith(":aud"));
    if (subKeys.length === 0)
        out.push('no StringEquals condition on "<issuer>:sub": any service account of the cluster could assume the role.');
    for (const key of subKeys) {
        const values = list(equals[key]);
        if (values.length !== 1 || typeof values[0] !== "string" || !SERVICE_ACCOUNT_SUBJECT.test(values[0]))
            out.push(
                `"${key}" must be exactly one "system:serviceaccount:<namespace>:<name>" without wildcards, not ${JSON.stringify(equals[key])}.`,
            );
    }
    if (audKeys.length === 0) out.push('no StringEquals condition on "<issuer>:aud" = "sts.amazonaws.com".');
    for (const key of audKeys) {
        const values = list(equals[key]);
        if (values.length !== 1 || values[0] !== "sts.amazonaws.com")
            out.push(`"${key}" must be "sts.amazonaws.com", not ${JSON.stringify(equals[key])}.`);
    }
    const issuers = new Set([...subKeys, ...audKeys].map((k) => k.slice(0, k.lastIndexOf(":"))));
    if (issuers.size > 1) out.push(`the sub and aud conditions name different issuers: ${[...issuers].join(", ")}.`);
    return out;
}

export const iamRoleIrsaTrustPinned: ResourceValidationPolicy = {
    name: "iam-role-irsa-trust-pinned",
    description:
        "IRSA trust policies must pin, with StringEquals, both the subject to one service account and the audience to sts.amazonaws.com.",
    remediationSteps:
        'Condition: {StringEquals: {"<issuer>:sub": "system:serviceaccount:<namespace>:<name>", "<issuer>:aud": "sts.amazonaws.com"}}, with the issuer host and path without https://.',
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes([IAM.role], (args, report) => {
        const parsed = statementsOf(args.props.assumeRolePolicy);
        if ("error" in parsed) {
            report(`assumeRolePolicy: ${parsed.error}.`);
            return;
        }
        parsed.statements.forEach((statement, i) => {
            if (!isAllow(statement) || !actionsOf(statement).includes("sts:assumerolewithwebidentity")) return;
            for (const message of irsaViolations(statement)) report(`trust statement ${str(statement.Sid) ?? `#${i + 1}`}: ${message}`);
        });
    }),
};

/** EC2 actions that create or delete snapshots, volumes and tags: what a pattern must not cover unscoped. */
const EC2_MUTATIONS = ["ec2:createsnapshot", "ec2:createvolume", "ec2:createtags", "ec2:deletesnapshot", "ec2:deletevolume"];

function mutatesEc2(action: string): boolean {
    return /^ec2:(create|delete)/.test(action) || EC2_MUTATIONS.some((m) => actionCovers(action, m));
}

/** A resource that names no particular snapshot or volume: "*" or an ARN with a wildcard. */
function broadResource(resource: unknown): boolean {
    return typeof resource === "string" && (resource === "*" || resource.includes("*"));
}

/** Condition keys that say which resources a grant reaches (a region alone says nothing about them). */
function scopesByTag({ operator, key, values }: { operator: string; key: string; values: unknown[] }): boolean {
    if (operator === "Null")
        return values.every((v) => v === "false" || v === false) && /^(aws:requesttag|aws:resourcetag|ec2:resourcetag)\//.test(key);
    return /^(aws:requesttag|aws:resourcetag|ec2:resourcetag)\//.test(key) || key === "aws:tagkeys" || key === "ec2:createaction";
}

export const iamPolicyEc2MutationsScoped: ResourceValidationPolicy = {
    name: "iam-policy-ec2-mutations-scoped",
    description:
        "IAM policies must not allow EC2 create or delete actions on every resource unless a tag or creation-action condition limits them to the program's own snapshots and volumes.",
    remediationSteps:
        "Grant EC2 only for native snapshots (`backup:velero.nativeSnapshots`), on snapshot/volume ARNs with `aws:RequestTag/velero.io/backup`, `ec2:ResourceTag/velero.io/backup` or `ec2:CreateAction` conditions, as stacks/grants.ts does.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(PERMISSION_TYPES, (args, report) =>
        eachAllow(args, report, (statement, where) => {
            const mutating = actionsOf(statement).filter(mutatesEc2);
            if (mutating.length === 0) return;
            const broad = list(statement.Resource).filter(broadResource);
            if (broad.length === 0 && statement.NotResource === undefined) return;
            if (conditionEntries(statement).some(scopesByTag)) return;
            report(
                `${where} allows ${mutating.join(", ")} on ${statement.NotResource !== undefined ? "NotResource" : broad.map((r) => `"${String(r)}"`).join(", ")} ` +
                    "without a tag or creation-action condition: these credentials could create or delete any snapshot or volume in reach (a region condition does not narrow that).",
            );
        }),
    ),
};

/** KMS operations that use key material; what a consumer's grant must route through S3. */
const KMS_CRYPTO = [
    "kms:decrypt",
    "kms:encrypt",
    "kms:generatedatakey",
    "kms:generatedatakeywithoutplaintext",
    "kms:reencryptfrom",
    "kms:reencryptto",
];

export const iamPolicyKmsThroughS3: ResourceValidationPolicy = {
    name: "iam-policy-kms-through-s3",
    description:
        "IAM grants of KMS cryptographic operations must be limited to S3 by a kms:ViaService or encryption-context condition, and must not allow ReEncrypt, nor Encrypt outside S3 replication.",
    remediationSteps:
        'Grant only kms:Decrypt and kms:GenerateDataKey (readers: kms:Decrypt) with Condition {StringEquals: {"kms:ViaService": "s3.<region>.amazonaws.com"}, StringLike: {"kms:EncryptionContext:aws:s3:arn": [<bucket ARN>, <bucket ARN>/<prefix>/*]}}, as stacks/grants.ts does.',
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(PERMISSION_TYPES, (args, report) =>
        eachAllow(args, report, (statement, where) => {
            const patterns = actionsOf(statement);
            const granted = KMS_CRYPTO.filter((op) => patterns.some((p) => actionCovers(p, op)));
            if (granted.length === 0) return;
            const keys = conditionEntries(statement).map((c) => c.key);
            const viaService = keys.includes("kms:viaservice");
            const context = keys.some((k) => k.startsWith("kms:encryptioncontext:"));
            if (!viaService && !context)
                report(
                    `${where} allows ${granted.join(", ")} without a kms:ViaService or kms:EncryptionContext condition: the credentials can use the key directly, outside S3.`,
                );
            const reEncrypt = granted.filter((op) => op.startsWith("kms:reencrypt"));
            if (reEncrypt.length > 0) report(`${where} allows ${reEncrypt.join(", ")}: no backup reader or writer re-encrypts.`);
            // S3 replication encrypts replicas with kms:Encrypt through S3; a consumer never needs it.
            if (granted.includes("kms:encrypt") && !(viaService && context))
                report(
                    `${where} allows kms:Encrypt without both kms:ViaService and an encryption-context condition (only S3 replication needs it).`,
                );
        }),
    ),
};

export const iamPolicies: ResourceValidationPolicy[] = [
    iamPolicyNoWildcardActions,
    iamPolicyNoS3WildcardResource,
    iamPolicyS3ActionWildcards,
    iamRoleIrsaTrustPinned,
    iamPolicyEc2MutationsScoped,
    iamPolicyKmsThroughS3,
];
