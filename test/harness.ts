// Test helpers: render a stack (its real stack file, optionally edited) through the real program
// under the mock runtime, and find what it registered.
import Ajv, { type ValidateFunction } from "ajv";
import * as fs from "fs";
import { parse } from "yaml";
import { main } from "../program";
import { record, type Recorded, type RecordResult } from "../cli/recorder";
import { readStackConfig, stackFile } from "../cli/stackfile";

export type Raw = Record<string, unknown>;

/** The stack file's `backup:*` config as plain objects (keys without the prefix). */
export function stackConfig(stack: string): Raw {
    const { config } = readStackConfig(stackFile(stack));
    const raw: Raw = {};
    for (const [k, v] of Object.entries(config)) {
        if (!k.startsWith("backup:")) continue;
        try {
            raw[k.slice("backup:".length)] = JSON.parse(v);
        } catch {
            raw[k.slice("backup:".length)] = v;
        }
    }
    return raw;
}

export interface Rendered extends RecordResult {
    /** The one resource of `type` named `name`; throws when absent. */
    get(type: string, name: string): Recorded;
    /** Every resource of `type`. */
    all(type: string): Recorded[];
}

/**
 * Renders `stack` with `edit` applied to its config. `reveal` keeps secret values for wiring checks; `secrets` are
 * `backup:` keys set as secret config (`pulumi config set --secret`).
 */
export async function render(
    stack: string,
    edit: (raw: Raw) => void = () => undefined,
    reveal = false,
    secrets: Record<string, string> = {},
): Promise<Rendered> {
    const raw = stackConfig(stack);
    edit(raw);
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`backup:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
    for (const [k, v] of Object.entries(secrets)) config[`backup:${k}`] = v;
    const result = await record(main, { stack, config, reveal, secretKeys: Object.keys(secrets).map((k) => `backup:${k}`) });
    return {
        ...result,
        all: (type) => result.resources.filter((r) => r.type === type),
        get: (type, name) => {
            const found = result.resources.find((r) => r.type === type && r.name === name);
            if (!found)
                throw new Error(`no ${type} named ${name}; have: ${result.resources.map((r) => `${r.type}::${r.name}`).join(", ")}`);
            return found;
        },
    };
}

/** The field manager annotation every object the stack owns carries (components/ownership.ts). */
export const owned = (stack: string): Record<string, string> => ({ "pulumi.com/patchFieldManager": `backup-platform-${stack}` });

/** GitHub's anchor for a Markdown heading. */
const anchor = (heading: string) =>
    heading
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, "")
        .replace(/ /g, "-");

/** The anchors of README.md's headings, as GitHub renders them (runbook links point at them). */
export function readmeAnchors(): Set<string> {
    const readme = fs.readFileSync(`${__dirname}/../../README.md`, "utf8");
    return new Set(
        readme
            .split("\n")
            .filter((l) => l.startsWith("#"))
            .map((l) => anchor(l.replace(/^#+/, ""))),
    );
}

/** Deep clone, for editing nested config without touching the original. */
export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A parsed IAM / bucket policy statement. */
export interface Statement {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    Resource?: string | string[];
    Principal?: unknown;
    Condition?: Record<string, Record<string, string | string[]>>;
}

export function statements(policy: unknown): Statement[] {
    if (typeof policy !== "string") throw new Error(`policy is not a JSON string: ${JSON.stringify(policy)}`);
    return (JSON.parse(policy) as { Statement: Statement[] }).Statement;
}

export const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Upstream fixtures (CRDs, schemas): ../shared/fixtures, or $BACKUP_PLATFORM_FIXTURES. */
export function fixture(relative: string): string {
    const root = process.env.BACKUP_PLATFORM_FIXTURES ?? `${__dirname}/../../../shared/fixtures`;
    return `${root}/${relative}`;
}

/** The values a Helm chart resource received. */
export function chartValues(r: Rendered, name: string): Record<string, unknown> {
    return r.get("kubernetes:helm.sh/v4:Chart", name).inputs.values as Record<string, unknown>;
}

/** Go's RE2 accepts a leading `(?i)`; JavaScript wants the flag instead. */
function re2(pattern: string, flags: string): RegExp {
    return pattern.startsWith("^(?i)") || pattern.startsWith("(?i)")
        ? new RegExp(pattern.replace("(?i)", ""), `${flags}i`)
        : new RegExp(pattern, flags);
}
re2.code = "re2";

/** A validator for the served schema of an upstream CRD fixture (what the API server checks). */
export function crdValidator(file: string): ValidateFunction {
    const crd = parse(fs.readFileSync(fixture(`crds/${file}`), "utf8")) as {
        spec: { versions: { schema: { openAPIV3Schema: object } }[] };
    };
    return new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: re2 } }).compile(
        crd.spec.versions[0].schema.openAPIV3Schema,
    );
}
