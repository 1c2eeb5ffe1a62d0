// Reads a Pulumi.<stack>.yaml file into the flat config map the engine would pass the program.
import * as fs from "fs";
import * as path from "path";
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import { ConfigError } from "../config";

export interface StackConfig {
    config: Record<string, string>;
    secretKeys: string[];
}

/** The project root: the nearest folder above this file holding Pulumi.yaml (works from bin/ and from sources). */
export const projectRoot = ((): string => {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no Pulumi.yaml above ${__dirname}`);
    }
})();

/** `Pulumi.<stack>.yaml` in the project root. */
export function stackFile(stack: string): string {
    return path.join(projectRoot, `Pulumi.${stack}.yaml`);
}

/** A stack file that is not valid YAML, or not a stack file; the message starts with `<file>:<line>:<column>:`. */
export class StackFileError extends ConfigError {
    constructor(message: string) {
        super(message);
        this.name = "StackFileError";
    }
}

/** Aliases one stack file may expand; a few are normal, thousands are a "billion laughs" bomb. */
const MAX_ALIASES = 100;

/** Offset of the first alias, where an alias bomb starts. */
function firstAlias(doc: Document): number {
    let at = 0;
    visit(doc, {
        Alias(_, node) {
            at = node.range?.[0] ?? 0;
            return visit.BREAK;
        },
    });
    return at;
}

/**
 * The stack file's `config:` mapping as plain values. Every YAML error (tabs, duplicate keys, an alias bomb, a
 * file that is no YAML mapping) is a StackFileError naming the file and line, never a parser's stack trace.
 */
export function parseStackFile(file: string, text: string): Record<string, unknown> {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
    const where = (offset: number): string => {
        const { line, col } = lines.linePos(offset);
        return `${file}:${line}:${col}`;
    };
    const error = doc.errors[0];
    if (error !== undefined) {
        // The parser's own message repeats the position and quotes the source; the first sentence is enough.
        throw new StackFileError(`${where(error.pos[0])}: ${error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`);
    }
    let top: unknown;
    try {
        top = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
        throw new StackFileError(`${where(firstAlias(doc))}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const notStackFile = (offset: number) =>
        new StackFileError(
            `${where(offset)}: not a Pulumi stack file: expected a mapping with a "config:" mapping of keys like backup:platform`,
        );
    if (top === null || top === undefined) return {};
    if (!isMap(doc.contents)) throw notStackFile(0);
    const config = doc.get("config", true);
    if (config === undefined || config === null || (isScalar(config) && config.value === null)) return {};
    if (!isMap(config)) throw notStackFile((config as { range?: [number] }).range?.[0] ?? 0);
    return (top as { config?: Record<string, unknown> | null }).config ?? {};
}

/**
 * Loads a stack file. Objects become JSON strings, as `pulumi config set --path` stores them; `secure:`
 * values cannot be decrypted here and are passed as "[secret]", flagged secret.
 */
export function readStackConfig(file: string): StackConfig {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new StackFileError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(parseStackFile(file, text))) {
        if (value !== null && typeof value === "object" && "secure" in value) {
            config[key] = "[secret]";
            secretKeys.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys };
}
