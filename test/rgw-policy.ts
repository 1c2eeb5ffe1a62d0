// A small evaluator of the bucket policies the bare-metal stack renders, as Ceph RGW applies them to
// users other than the bucket owner: an explicit Deny wins, then an Allow, else nothing (the
// bucket's ACL grants only its owner). It computes, per user, bucket and prefix, which of list /
// get / put / delete / multipart the policies allow, so tests compare it with the README's table.
import * as fs from "fs";
import * as path from "path";
import { statements, type Rendered, type Statement } from "./harness";

const OBC = "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim";
const PROBE = "probe-object";
/** A prefix no grant names: whatever a user may do there, it may do anywhere. */
export const ELSEWHERE = "zz-elsewhere";

/**
 * The README access table's example, added to `Pulumi.baremetal.yaml`: restore drills, one recovery and the off-site
 * copy on. One definition for the unit test that evaluates the rendered policies and the e2e test that asks RGW.
 */
export const README_ACCESS_EXAMPLE = {
    drills: { enabled: true },
    recoveries: [{ from: "esb-postgres", name: "esb-postgres-recovered", imageCatalog: { name: "postgresql-17", major: 17 } }],
    offsite: {
        enabled: true,
        destination: { endpoint: "https://minio.dr.example.org", region: "dr-1", bucket: "rciis-dr", credentialsSecret: { name: "dr-s3" } },
    },
};
export const COLUMNS = ["list", "get", "put", "delete", "multipart"] as const;
export type Column = (typeof COLUMNS)[number];

/** One row of the access table: a user's rights on one prefix of one bucket ("*" = every prefix, "/" = the bucket root). */
export interface AccessRow {
    readonly user: string;
    readonly bucket: string;
    readonly prefix: string;
    readonly rights: Readonly<Record<Column, boolean>>;
}

const arr = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const glob = (pattern: string, value: string): boolean =>
    new RegExp(
        `^${pattern
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".")}$`,
    ).test(value);

/**
 * The request keys RGW sets, from `prefix`: undefined = a request without them (HeadBucket, GetBucketLocation,
 * object calls); a string = a listing, which always carries `s3:max-keys`, and `s3:prefix` when not empty.
 */
function conditionHolds(s: Statement, prefix: string | undefined): boolean {
    const present: Record<string, boolean> = { "s3:prefix": prefix !== undefined && prefix !== "", "s3:max-keys": prefix !== undefined };
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
        for (const [key, values] of Object.entries(keys)) {
            // Anything else would be evaluated wrongly here: refuse it rather than guess.
            if (operator === "Null" && key in present && arr(values).join() === "true") {
                if (present[key]) return false;
                continue;
            }
            if (operator !== "StringLike" || key !== "s3:prefix") throw new Error(`evaluator does not know ${operator} ${key}`);
            if (prefix === undefined || !arr(values).some((v) => glob(v, prefix))) return false;
        }
    }
    return true;
}

/**
 * Whether `user` may do `action` on `resource`, by the policy alone. For s3:ListBucket, `prefix` is the
 * listing's prefix ("" = the bucket root); without it, the request is a HeadBucket.
 */
export function allows(policy: readonly Statement[], user: string, action: string, resource: string, prefix?: string): boolean {
    const matching = policy.filter((s) => {
        const principals = arr((s.Principal as { AWS?: string | string[] } | undefined)?.AWS);
        if (s.Principal === "*" || principals.includes("*")) throw new Error("evaluator does not expect wildcard principals");
        return (
            principals.includes(`arn:aws:iam:::user/${user}`) &&
            arr(s.Action).some((a) => glob(a, action)) &&
            arr(s.Resource).some((r) => glob(r, resource)) &&
            conditionHolds(s, prefix)
        );
    });
    if (matching.some((s) => s.Effect === "Deny")) return false;
    return matching.some((s) => s.Effect === "Allow");
}

/** Every bucket policy a render carries, by bucket, with the bucket's owner. */
export function bucketPolicies(r: Rendered): Map<string, { owner: string; policy: Statement[] }> {
    return new Map(
        r.all(OBC).map((obc) => {
            const spec = obc.inputs.spec as { bucketName: string; additionalConfig: Record<string, string> };
            const cfg = spec.additionalConfig;
            return [
                spec.bucketName,
                { owner: cfg.bucketOwner, policy: cfg.bucketPolicy === undefined ? [] : statements(cfg.bucketPolicy) },
            ];
        }),
    );
}

/** Prefixes a policy names (objects and list conditions), the root and one named nowhere. */
function prefixesOf(bucket: string, policy: readonly Statement[]): string[] {
    const named = new Set<string>(["", ELSEWHERE]);
    for (const s of policy) {
        for (const r of arr(s.Resource)) {
            const m = new RegExp(`^arn:aws:s3:::${bucket}/(.+)/\\*$`).exec(r);
            if (m) named.add(m[1]);
        }
        for (const v of Object.values(s.Condition ?? {}).flatMap((k) => Object.values(k).flatMap(arr))) named.add(v.replace(/\/\*$/, ""));
    }
    return [...named].sort();
}

function rightsAt(policy: readonly Statement[], user: string, bucket: string, prefix: string): Record<Column, boolean> {
    const object = `arn:aws:s3:::${bucket}/${prefix === "" ? "" : `${prefix}/`}${PROBE}`;
    const on = (action: string) => allows(policy, user, action, object);
    const abort = on("s3:AbortMultipartUpload");
    if (abort !== on("s3:ListMultipartUploadParts")) throw new Error(`${user} on ${bucket}/${prefix}: only half of multipart`);
    return {
        list: allows(policy, user, "s3:ListBucket", `arn:aws:s3:::${bucket}`, prefix === "" ? "" : `${prefix}/`),
        get: on("s3:GetObject"),
        put: on("s3:PutObject"),
        delete: on("s3:DeleteObject"),
        multipart: abort,
    };
}

/**
 * The effective access table of a render: for every user a policy names and every prefix of the
 * bucket, the rights it has; one `*` row when they are the same everywhere, nothing where it has none.
 */
export function accessTable(r: Rendered): AccessRow[] {
    const rows: AccessRow[] = [];
    for (const [bucket, { policy }] of bucketPolicies(r)) {
        const users = new Set(
            policy.flatMap((s) => arr((s.Principal as { AWS: string[] }).AWS).map((a) => a.replace(/^arn:aws:iam:::user\//, ""))),
        );
        const prefixes = prefixesOf(bucket, policy);
        for (const user of [...users].sort()) {
            const at = prefixes.map((prefix) => ({ prefix, rights: rightsAt(policy, user, bucket, prefix) }));
            const key = (x: Record<Column, boolean>) => JSON.stringify(x);
            if (at.every((a) => key(a.rights) === key(at[0].rights))) {
                if (Object.values(at[0].rights).some(Boolean)) rows.push({ user, bucket, prefix: "*", rights: at[0].rights });
                continue;
            }
            for (const a of at.filter((x) => Object.values(x.rights).some(Boolean)))
                rows.push({ user, bucket, prefix: a.prefix === "" ? "/" : a.prefix, rights: a.rights });
        }
    }
    return rows.sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));
}

const rowKey = (x: AccessRow) => `${x.user}\u0000${x.bucket}\u0000${x.prefix}`;

/** The access table in README.md, between its `object-access` markers. */
export function readmeAccessTable(file = path.join(__dirname, "..", "..", "README.md")): AccessRow[] {
    const text = fs.readFileSync(file, "utf8");
    const m = /<!-- object-access:start -->\n([\s\S]*?)<!-- object-access:end -->/.exec(text);
    if (!m) throw new Error("README.md has no object-access table");
    const lines = m[1].split("\n").filter((l) => l.startsWith("|"));
    const cell = (c: string) => c.trim().replace(/^`|`$/g, "");
    const header = lines[0].split("|").slice(1, -1).map(cell);
    if (JSON.stringify(header) !== JSON.stringify(["user", "bucket", "prefix", ...COLUMNS]))
        throw new Error(`unexpected header ${header.join()}`);
    return lines
        .slice(2)
        .map((line) => {
            const [user, bucket, prefix, ...marks] = line.split("|").slice(1, -1).map(cell);
            const rights = Object.fromEntries(COLUMNS.map((c, i) => [c, marks[i] === "yes"])) as Record<Column, boolean>;
            for (const mark of marks) if (mark !== "yes" && mark !== "-") throw new Error(`README access table: "${mark}" is not yes or -`);
            return { user, bucket, prefix, rights };
        })
        .sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));
}
