// Helpers shared by the policies: safe reads of untyped resource inputs, policy config with
// defaults, IAM documents, cron fields, image references and lifecycle rules.
//
// Under the CLI, `props` is a proxy that throws when a policy touches a value unknown during
// preview; the policy host turns that into an advisory "can't run during preview" note. So nothing
// here catches errors around property access, only around JSON.parse.
import type { PolicyResourceOptions, ReportViolation, ResourceValidation, ResourceValidationArgs } from "@pulumi/policy";

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The value at `keys` below `root`, or undefined when any step is missing or not an object. */
export function at(root: unknown, ...keys: string[]): unknown {
    let current = root;
    for (const key of keys) {
        if (!isObj(current)) return undefined;
        current = current[key];
    }
    return current;
}

/** IAM and Kubernetes fields that take "one or many": always an array. */
export function list(value: unknown): unknown[] {
    if (Array.isArray(value)) return value as unknown[];
    return value === undefined || value === null ? [] : [value];
}

export function str(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** A non-empty string, or undefined. */
export function text(value: unknown): string | undefined {
    return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** Policy config as the CLI passes it, with the policy's defaults filled in (the CLI may not apply them). */
export function configOf<T extends object>(args: { getConfig<U extends object>(): U }, defaults: T): T {
    return { ...defaults, ...args.getConfig<Partial<T>>() };
}

/** A validation that runs only for the given type tokens. */
export function forTypes(
    types: readonly string[],
    validate: (args: ResourceValidationArgs, report: ReportViolation) => void,
): ResourceValidation {
    const wanted = new Set(types);
    return (args, report) => {
        if (wanted.has(args.type)) validate(args, report);
    };
}

/** Resource options as the CLI passes them, plus `retainOnDelete` where the caller can see it. */
export type OptionsWithRetain = PolicyResourceOptions & { retainOnDelete?: boolean };

/** "<namespace>/<name>" of a Kubernetes object (namespace "default" when unset). */
export function objectKey(props: unknown): string {
    return `${str(at(props, "metadata", "namespace")) ?? "default"}/${str(at(props, "metadata", "name")) ?? "?"}`;
}

// ---- IAM documents ------------------------------------------------------------------------------

/** A parsed IAM policy document's statements, or the reason it could not be read. */
export function statementsOf(policy: unknown): { statements: Obj[] } | { error: string } {
    let doc: unknown = policy;
    if (typeof policy === "string") {
        try {
            doc = JSON.parse(policy);
        } catch (err) {
            return { error: `the policy document is not valid JSON (${err instanceof Error ? err.message : String(err)})` };
        }
    }
    if (!isObj(doc)) return { error: "the policy document is not a JSON object" };
    return { statements: list(doc.Statement).filter(isObj) };
}

/** Lower-cased action names of a statement's Action (IAM action names are case-insensitive). */
export function actionsOf(statement: Obj, key: "Action" | "NotAction" = "Action"): string[] {
    return list(statement[key])
        .filter((a): a is string => typeof a === "string")
        .map((a) => a.toLowerCase());
}

export function isAllow(statement: Obj): boolean {
    return statement.Effect === "Allow";
}

/** True when an IAM action pattern ("*", "ec2:*", "kms:ReEncrypt*", "ec2:CreateSnapshot") covers `action` (both lower-case). */
export function actionCovers(pattern: string, action: string): boolean {
    const source = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${source}$`).test(action);
}

/** Every (operator, key, values) of a statement's Condition block; keys lower-cased (IAM condition keys are case-insensitive). */
export function conditionEntries(statement: Obj): { operator: string; key: string; values: unknown[] }[] {
    const condition = isObj(statement.Condition) ? statement.Condition : {};
    return Object.entries(condition).flatMap(([operator, block]) =>
        isObj(block) ? Object.entries(block).map(([key, value]) => ({ operator, key: key.toLowerCase(), values: list(value) })) : [],
    );
}

// ---- cron ---------------------------------------------------------------------------------------

/** The whitespace-separated fields of a cron expression; descriptors ("@daily", "@every 1h") give []. */
export function cronFields(schedule: string): string[] {
    const trimmed = schedule.trim();
    return trimmed.startsWith("@") ? [] : trimmed.split(/\s+/);
}

/** Characters a robfig/cron field may contain (numbers, names, ranges, lists, steps, wildcards). */
export const CRON_FIELD = /^[0-9A-Za-z*?,/-]+$/;

// ---- Go durations (Velero TTLs) -----------------------------------------------------------------

const DURATION_UNIT_HOURS: Record<string, number> = {
    ns: 1 / 3.6e12,
    us: 1 / 3.6e9,
    µs: 1 / 3.6e9,
    ms: 1 / 3.6e6,
    s: 1 / 3600,
    m: 1 / 60,
    h: 1,
};

/** Hours in a Go duration string ("720h", "720h0m0s", "1.5h"), or undefined when it does not parse. */
export function durationHours(value: string): number | undefined {
    if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) return undefined;
    let hours = 0;
    for (const match of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) hours += Number(match[1]) * DURATION_UNIT_HOURS[match[2]];
    return hours;
}

// ---- container images ---------------------------------------------------------------------------

/** Why an image reference is not pinned, or undefined when it has a fixed tag or a digest. */
export function unpinnedReason(image: string): string | undefined {
    if (/@sha(256|384|512):[0-9a-f]+$/.test(image)) return undefined;
    const name = image.slice(image.lastIndexOf("/") + 1);
    const colon = name.indexOf(":");
    if (colon < 0) return "has no tag, so it pulls whatever `latest` is at the time";
    const tag = name.slice(colon + 1);
    if (tag === "" || tag === "latest") return "uses the `latest` tag, which changes under the workload";
    return undefined;
}

// ---- lifecycle rules ----------------------------------------------------------------------------

/** One lifecycle rule reduced to what the retention check needs. */
export interface ExpiryRule {
    id: string;
    /** Days after which current objects expire, when the rule expires them by age. */
    days?: number;
    /** A fixed expiry date, when the rule expires current objects on a date. */
    date?: string;
}

/** A rule's field names: the aws provider's camelCase, or the S3 API's casing that Rook takes. */
interface LifecycleKeys {
    status: string;
    id: string;
    expiration: string;
    days: string;
    date: string;
}

/** Enabled rules' current-object expiries. Outputs carry days 0 on delete-marker-only rules: only a positive age expires objects. */
function expiryRulesOf(rules: unknown, k: LifecycleKeys): ExpiryRule[] {
    return list(rules)
        .filter(isObj)
        .filter((r) => r[k.status] === "Enabled")
        .map((r) => {
            const days = at(r, k.expiration, k.days);
            return {
                id: str(r[k.id]) ?? "?",
                days: typeof days === "number" && days > 0 ? days : undefined,
                date: text(at(r, k.expiration, k.date)),
            };
        });
}

/** Expiry rules of an aws.s3 BucketLifecycleConfiguration's `rules` (enabled rules only). */
export function awsExpiryRules(rules: unknown): ExpiryRule[] {
    return expiryRulesOf(rules, { status: "status", id: "id", expiration: "expiration", days: "days", date: "date" });
}

/** Expiry rules of an S3 lifecycle document in AWS's XML-as-JSON casing (Rook's `bucketLifecycle`). */
export function s3ApiExpiryRules(doc: unknown): ExpiryRule[] {
    return expiryRulesOf(at(doc, "Rules"), { status: "Status", id: "ID", expiration: "Expiration", days: "Days", date: "Date" });
}

/** Violations of "current objects live at least `minDays`" in a set of expiry rules. */
export function expiryViolations(rules: ExpiryRule[], minDays: number): string[] {
    const out: string[] = [];
    for (const rule of rules) {
        if (rule.date !== undefined)
            out.push(`lifecycle rule "${rule.id}" expires current objects on a fixed date (${rule.date}); expire them by age instead.`);
        if (rule.days !== undefined && rule.days < minDays)
            out.push(
                `lifecycle rule "${rule.id}" expires current objects after ${rule.days} days, before the ${minDays} days ` +
                    "that retention plus one base-backup interval need: a point-in-time recovery would lose its base backup.",
            );
    }
    return out;
}
