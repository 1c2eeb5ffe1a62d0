// Value formats every section uses: names, buckets, retention, cron, endpoints, quantities.
import { Cron } from "croner";
import { z } from "zod";
import { CRON_EPOCH, retentionDays } from "../core/schedule";

// ---- value formats -------------------------------------------------------------------------

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const dnsLabel = (what: string, max = 63) =>
    z
        .string()
        .max(max, `${what} must be at most ${max} characters`)
        .regex(
            DNS_LABEL,
            `${what} must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`,
        );

/** A DNS-1123 subdomain: what Secret and StorageClass names may be (dots allowed, at most 253 characters). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const dnsSubdomain = (what: string) =>
    z
        .string()
        .max(253, `${what} must be at most 253 characters`)
        .regex(
            DNS_SUBDOMAIN,
            `${what} must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit`,
        );

export const namespaceName = dnsLabel("a Kubernetes namespace");

/** Prefixes and suffixes S3 reserves (AWS's "General purpose bucket naming rules"): buckets with them cannot be created. */
export const AWS_RESERVED_BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
export const AWS_RESERVED_BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

// No dots: dotted names break virtual-hosted TLS on AWS and are easy to confuse with endpoints.
export const bucketName = z
    .string()
    .regex(
        /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
        "a bucket name must be 3-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
    )
    .refine(
        (b) => !AWS_RESERVED_BUCKET_PREFIXES.some((p) => b.startsWith(p)) && !AWS_RESERVED_BUCKET_SUFFIXES.some((x) => b.endsWith(x)),
        `a bucket name must not start with ${AWS_RESERVED_BUCKET_PREFIXES.join(", ")} nor end with ${AWS_RESERVED_BUCKET_SUFFIXES.join(", ")} (reserved by S3)`,
    );

/**
 * Ten years bounds every duration that becomes a bucket lifecycle: longer is no backup policy but a typo
 * (an extra digit), which would otherwise keep every object, and its cost, for centuries without a word.
 */
export const MAX_KEEP_DAYS = 3650;

/** `30d`, `4w` or `1m` (CloudNativePG's retentionPolicy syntax), at most ten years. */
export const retention = z
    .string()
    .regex(/^[1-9][0-9]{0,3}[dwm]$/, "retention must look like 30d, 4w or 1m (a number followed by d, w or m)")
    .refine((r) => retentionDays(r) <= MAX_KEEP_DAYS, `retention must be at most ten years (3650d, 521w or 117m)`);

/** Velero/Go duration in hours, e.g. `720h`, at most ten years. */
export const ttl = z
    .string()
    .regex(/^[1-9][0-9]*h$/, "a TTL must be a whole number of hours, like 720h")
    .refine((t) => Number(t.slice(0, -1)) <= MAX_KEEP_DAYS * 24, `a TTL must be at most ${MAX_KEEP_DAYS * 24}h (ten years)`);

/** The field names of a cron expression, seconds first; five-field expressions have no seconds. */
export const CRON_FIELDS = ["second", "minute", "hour", "day of month", "month", "day of week"];
export const CRON_RANGES = [
    "second 0-59",
    "minute 0-59",
    "hour 0-23",
    "day of month 1-31",
    "month 1-12 or jan-dec",
    "day of week 0-7 or sun-sat",
];

/**
 * One atom of the dialect Kubernetes, Velero and CloudNativePG share (robfig/cron): `*`, `?`, a number or a
 * three-letter month or day name. The library also knows Quartz's L, W and # and a year field, which those
 * schedulers refuse, so they are refused here first.
 */
export const CRON_ATOM = /^(\*|\?|[0-9]+|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i;

/** A field's problem in that dialect: lists of ranges or atoms, each with an optional step. */
export function cronFieldProblem(field: string): string | undefined {
    for (const item of field.split(",")) {
        const [range, step, ...rest] = item.split("/");
        const bounds = range.split("-");
        if (
            rest.length > 0 ||
            (step !== undefined && !/^[1-9][0-9]*$/.test(step)) ||
            bounds.length > 2 ||
            !bounds.every((b) => CRON_ATOM.test(b))
        ) {
            return `"${item}" is not a value, a name, a range or a step`;
        }
    }
    return undefined;
}

/**
 * Why a cron expression of `count` fields is refused, or undefined: the fields' syntax in the schedulers'
 * dialect, then every value's range (names, steps, lists, ranges) by croner, and a schedule that never runs.
 */
export function cronProblem(expr: string, count: 5 | 6): string | undefined {
    const fields = expr.trim().split(/\s+/);
    const names = CRON_FIELDS.slice(6 - count);
    for (const [i, field] of fields.entries()) {
        const problem = cronFieldProblem(field);
        if (problem !== undefined) return `"${expr}": ${names[i]} field ${problem}`;
    }
    let next: Date | null;
    try {
        next = new Cron(expr, { timezone: "UTC" }).nextRun(CRON_EPOCH);
    } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, "");
        return `"${expr}" is not a valid schedule (${why}); allowed: ${CRON_RANGES.slice(6 - count).join(", ")}`;
    }
    return next === null ? `"${expr}" never runs (no date matches its day, month and weekday)` : undefined;
}

export const FIVE_FIELDS = 'a five-field cron expression (minute hour day month weekday), like "0 2 * * *"';

/** Standard five-field cron (Kubernetes CronJob, Velero Schedule), checked field by field. */
export const cron5 = z.string().superRefine((s, ctx) => {
    if (s.trim().split(/\s+/).length !== 5) {
        ctx.addIssue({ code: "custom", message: `a schedule must be ${FIVE_FIELDS}` });
        return;
    }
    const problem = cronProblem(s, 5);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${problem}; a schedule must be ${FIVE_FIELDS}` });
});

/**
 * CloudNativePG ScheduledBackup cron: six fields, seconds first. A five-field value is the seeds'
 * classic mistake: CNPG reads "0 2 * * *" as second 0, minute 2 of every hour, so it runs hourly.
 */
export const cron6 = z.string().superRefine((s, ctx) => {
    const n = s.trim().split(/\s+/).length;
    const issue = (message: string) => ctx.addIssue({ code: "custom", message });
    if (n === 5) {
        issue(
            `"${s}" has five fields, but CloudNativePG schedules have six with seconds first; CNPG would read it as "every hour at minute ${s.trim().split(/\s+/)[1]}". Write "0 ${s.trim()}" for the intended time`,
        );
    } else if (n !== 6) {
        issue(`"${s}" must be a six-field cron expression (second minute hour day month weekday), like "0 0 2 * * *"`);
    } else {
        const problem = cronProblem(s, 6);
        if (problem !== undefined) issue(`${problem}; a CloudNativePG schedule is six fields, seconds first, like "0 0 2 * * *"`);
    }
});

/** A host name (dot-separated DNS labels) or a bracketed IPv6 address: nothing that could break a quoted string or a shell. */
export const HOST = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;

/**
 * Why an endpoint URL is refused, or undefined. The WHATWG parser finds the parts; the explicit checks refuse
 * what it would accept but must not reach specs, outputs or SQL: credentials (they would be shown in plaintext),
 * queries, fragments, paths and characters that have no business in a host.
 */
export function endpointProblem(value: string): string | undefined {
    const scheme = /^https?:\/\//.exec(value);
    if (scheme === null) return "an endpoint must be a URL like https://host:port with no path (http:// or https://)";
    const authority = value.slice(scheme[0].length).replace(/\/$/, "");
    if (authority.includes("@")) {
        return "an endpoint must not contain credentials (user:password@): they would appear in plaintext in specs and outputs; give keys through Secrets";
    }
    if (authority.includes("?")) return "an endpoint must not have a query string";
    if (authority.includes("#")) return "an endpoint must not have a fragment";
    if (authority.includes("/")) return "an endpoint must be a URL like https://host:port with no path";
    const port = /:([^:\]]*)$/.exec(authority);
    if (port !== null && !(/^[0-9]{1,5}$/.test(port[1]) && Number(port[1]) >= 1 && Number(port[1]) <= 65535)) {
        return `the endpoint's port must be a number from 1 to 65535, not "${port[1]}"`;
    }
    const host = port === null ? authority : authority.slice(0, -port[0].length);
    if (host === "") return "an endpoint needs a host";
    if (!HOST.test(host)) return `"${host}" is not a host name: lowercase letters, digits, '-' and '.' (or a [IPv6] address)`;
    try {
        return new URL(value).hostname === "" ? "an endpoint needs a host" : undefined;
    } catch {
        return "an endpoint must be a URL like https://host:port with no path";
    }
}

export const httpUrl = z.string().superRefine((v, ctx) => {
    const problem = endpointProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/** A region name an S3 endpoint signs for: it reaches scripts and SQL, so a plain name only. */
export const s3Region = z
    .string()
    .min(1, "region must not be empty")
    .max(63, "region must be at most 63 characters")
    .regex(
        /^[a-z0-9][a-z0-9._-]*$/,
        "region must be lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (like eu-west-1)",
    );

export const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$/, "a quantity like 100m, 128Mi or 1Gi");
export const resources = z.strictObject({
    requests: z.strictObject({ cpu: quantity, memory: quantity }),
    limits: z.strictObject({ cpu: quantity, memory: quantity }),
});

/** An image reference with an explicit tag other than `latest`, or a digest. */
export const pinnedImage = z
    .string()
    .regex(
        /^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?[a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$/,
        "an image must be pinned: name:tag or name@sha256:digest",
    )
    .refine((ref) => !/:latest$/.test(ref), "an image must be pinned to a version, not :latest");
