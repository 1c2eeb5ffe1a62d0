// `node bin/scripts/stack-config.js <Pulumi.<stack>.yaml>` prints the pack's config for that stack
// (the JSON `pulumi preview|up --policy-pack-config` takes): the stack's retention for the lifecycle
// checks and its database inventory for stack-cnpg-backup-pairing, so CI checks each stack against
// what it declares rather than against the pack's defaults.
import * as fs from "fs";
import { parse } from "yaml";

/** Days in a CNPG retention ("30d", "4w", "1m"); a month counts 31 days, the stricter reading. */
export function retentionDays(retention: string): number {
    const match = /^([1-9][0-9]*)([dwm])$/.exec(retention);
    if (match === null) throw new Error(`backup:retention "${retention}" is not <n>d, <n>w or <n>m`);
    return Number(match[1]) * { d: 1, w: 7, m: 31 }[match[2] as "d" | "w" | "m"];
}

/** The pack config matching one stack file's `backup:` settings. */
export function stackPolicyConfig(stackFileText: string): Record<string, Record<string, unknown>> {
    const doc = (parse(stackFileText) ?? {}) as { config?: Record<string, unknown> };
    const config = doc.config ?? {};
    const retention = config["backup:retention"] ?? "30d";
    if (typeof retention !== "string") throw new Error("backup:retention must be a string such as 30d");
    const postgres = config["backup:postgres"] ?? [];
    if (!Array.isArray(postgres)) throw new Error("backup:postgres must be a list of {name, namespace}");
    const inventory = postgres.map((db: unknown) => {
        const { name, namespace } = (db ?? {}) as { name?: unknown; namespace?: unknown };
        if (typeof name !== "string" || typeof namespace !== "string")
            throw new Error(`backup:postgres entry ${JSON.stringify(db)} needs name and namespace`);
        return { name, namespace };
    });
    const days = retentionDays(retention);
    return {
        "s3-lifecycle-min-expiration": { retentionDays: days },
        "ceph-objectbucketclaim-lifecycle-min-expiration": { retentionDays: days },
        "stack-cnpg-backup-pairing": { inventory },
    };
}

if (require.main === module) {
    const file = process.argv[2];
    if (file === undefined) {
        process.stderr.write("usage: node bin/scripts/stack-config.js <Pulumi.<stack>.yaml>\n");
        process.exit(64);
    }
    try {
        process.stdout.write(`${JSON.stringify(stackPolicyConfig(fs.readFileSync(file, "utf8")), null, 2)}\n`);
    } catch (err) {
        process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(2);
    }
}
