// `node bin/scripts/stack-config.js <Pulumi.<stack>.yaml>` prints the pack's config for that stack
// (the JSON `pulumi preview|up --policy-pack-config` takes): the stack's retention for the lifecycle
// checks and its database inventory for stack-cnpg-backup-pairing, so CI checks each stack against
// what it declares rather than against the pack's defaults.
import * as fs from "fs";
import { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";

/** Days in a CNPG retention ("30d", "4w", "1m"); a month counts 31 days, the stricter reading. The program's own
 * reading is core/schedule.ts; the pack cannot import it (its own package), so test/stack-config.test.ts proves they agree. */
export function retentionDays(retention: string): number {
    const match = /^([1-9][0-9]*)([dwm])$/.exec(retention);
    if (match === null) throw new Error(`backup:retention "${retention}" is not <n>d, <n>w or <n>m`);
    return Number(match[1]) * { d: 1, w: 7, m: 31 }[match[2] as "d" | "w" | "m"];
}

/** Aliases one stack file may expand: a few are normal, thousands are a "billion laughs" bomb. */
const MAX_ALIASES = 100;

/**
 * The `config:` mapping of a stack file. Every YAML problem (tabs, duplicate keys, an alias bomb, a file that is
 * no mapping) is an Error whose message starts with `<file>:<line>:<column>:`, never a parser's stack trace.
 * (The pack is its own package, so this mirrors the program's cli/stackfile.ts rather than importing it.)
 */
export function stackFileConfig(text: string, file: string): Record<string, unknown> {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
    const where = (offset: number) => `${file}:${lines.linePos(offset).line}:${lines.linePos(offset).col}`;
    const error = doc.errors[0];
    if (error !== undefined)
        throw new Error(`${where(error.pos[0])}: ${error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`);
    let top: unknown;
    try {
        top = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
        throw new Error(`${where(0)}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (top === null || top === undefined) return {};
    const notStackFile = (offset: number) =>
        new Error(`${where(offset)}: not a Pulumi stack file: expected a mapping with a "config:" mapping`);
    if (!isMap(doc.contents)) throw notStackFile(0);
    const node: unknown = doc.get("config", true);
    if (node === undefined || (isScalar(node) && node.value === null)) return {};
    if (!isMap(node)) throw notStackFile(isNode(node) ? (node.range?.[0] ?? 0) : 0);
    return (top as { config: Record<string, unknown> }).config;
}

/** The pack config matching one stack file's `backup:` settings. */
export function stackPolicyConfig(stackFileText: string, file = "stack file"): Record<string, Record<string, unknown>> {
    const config = stackFileConfig(stackFileText, file);
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
        process.stdout.write(`${JSON.stringify(stackPolicyConfig(fs.readFileSync(file, "utf8"), file), null, 2)}\n`);
    } catch (err) {
        process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(2);
    }
}
