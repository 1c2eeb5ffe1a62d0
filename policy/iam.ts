// IAM: permission documents stay least-privilege, and IRSA trust policies name exactly one
// service account and the STS audience.
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { actionsOf, forTypes, isAllow, isObj, list, statementsOf, str, type Obj } from "./util";

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

export const iamPolicies: ResourceValidationPolicy[] = [
    iamPolicyNoWildcardActions,
    iamPolicyNoS3WildcardResource,
    iamPolicyS3ActionWildcards,
    iamRoleIrsaTrustPinned,
];
