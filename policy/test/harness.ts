// Runs policies the way the policy host does, without the CLI: builds ResourceValidationArgs and
// StackValidationArgs directly and collects what the policies report.
import * as assert from "assert";
import * as path from "path";
import type {
    Policy,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import type { OptionsWithRetain } from "../util";

/** ../shared beside the project (BACKUP_SHARED_DIR overrides): seeds and fixtures are read there, never copied. */
export const sharedDir = process.env.BACKUP_SHARED_DIR ?? path.resolve(__dirname, "..", "..", "..", "..", "shared");

/** What one policy said about one resource or one stack. */
export interface Outcome {
    violations: string[];
    /** URNs the violations were reported against (stack policies), in order; undefined = the stack. */
    urns: (string | undefined)[];
    /** Set when the policy declared itself not applicable. */
    notApplicable?: string;
}

class NotApplicable extends Error {
    constructor(readonly reason: string) {
        super(reason);
    }
}

export interface ResourceInput {
    type: string;
    props: Record<string, unknown>;
    name?: string;
    opts?: Partial<OptionsWithRetain>;
    /** Policy config, as `--policy-pack-config` would pass it. */
    config?: object;
}

function options(opts: Partial<OptionsWithRetain> = {}): OptionsWithRetain {
    return {
        protect: false,
        ignoreChanges: [],
        aliases: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        additionalSecretOutputs: [],
        ...opts,
    };
}

const noTypedAccess = (): never => {
    throw new Error("policies in this pack read args.type and args.props; isType/asType would need the provider SDKs");
};

function notApplicable(reason?: string): never {
    throw new NotApplicable(reason ?? "");
}

export function urnOf(type: string, name: string, stack = "test"): string {
    return `urn:pulumi:${stack}::backup-platform::${type}::${name}`;
}

export function resourceArgs(input: ResourceInput): ResourceValidationArgs {
    const name = input.name ?? "fixture";
    return {
        type: input.type,
        props: input.props,
        urn: urnOf(input.type, name),
        name,
        opts: options(input.opts),
        stackTags: new Map(),
        isType: noTypedAccess,
        asType: noTypedAccess,
        getConfig: <T extends object>() => (input.config ?? {}) as T,
        notApplicable,
    };
}

async function collect(run: (report: (message: string, urn?: string) => void) => Promise<void> | void): Promise<Outcome> {
    const outcome: Outcome = { violations: [], urns: [] };
    try {
        await run((message, urn) => {
            outcome.violations.push(message);
            outcome.urns.push(urn);
        });
    } catch (err) {
        if (!(err instanceof NotApplicable)) throw err;
        outcome.notApplicable = err.reason;
    }
    return outcome;
}

export function isResourcePolicy(policy: Policy): policy is ResourceValidationPolicy {
    return "validateResource" in policy;
}

export function isStackPolicy(policy: Policy): policy is StackValidationPolicy {
    return "validateStack" in policy;
}

/** Runs every validation of a resource policy over one resource. */
export async function runResource(policy: ResourceValidationPolicy, input: ResourceInput): Promise<Outcome> {
    const validations = policy.validateResource === undefined ? [] : [policy.validateResource].flat();
    const args = resourceArgs(input);
    return collect(async (report) => {
        for (const validate of validations) await validate(args, report);
    });
}

export interface StackInput {
    type: string;
    name: string;
    props: Record<string, unknown>;
    /** Name of the parent resource in the same list (its type::name or just its name when unique). */
    parent?: string;
    opts?: Partial<OptionsWithRetain>;
}

/** PolicyResources with parents linked, as the policy host builds them for validateStack. */
export function stackResources(inputs: StackInput[], stack = "test"): PolicyResource[] {
    const resources = inputs.map((r): PolicyResource => ({
        type: r.type,
        name: r.name,
        props: r.props,
        urn: urnOf(r.type, r.name, stack),
        opts: options(r.opts),
        dependencies: [],
        propertyDependencies: {},
        isType: noTypedAccess,
        asType: noTypedAccess,
    }));
    const byKey = new Map<string, PolicyResource>();
    for (const r of resources) {
        const key = `${r.type}::${r.name}`;
        if (byKey.has(key)) throw new Error(`duplicate resource ${key}`);
        byKey.set(key, r);
    }
    const find = (ref: string): PolicyResource | undefined => {
        const found = byKey.get(ref);
        if (found !== undefined) return found;
        const named = resources.filter((r) => r.name === ref);
        return named.length === 1 ? named[0] : undefined;
    };
    inputs.forEach((input, i) => {
        if (input.parent === undefined) return;
        const parent = find(input.parent);
        if (parent === undefined) throw new Error(`parent ${input.parent} of ${input.name} is not in the list (or not unique)`);
        resources[i].parent = parent;
        resources[i].opts.parent = parent.urn;
    });
    return resources;
}

export async function runStack(policy: StackValidationPolicy, resources: PolicyResource[], config: object = {}): Promise<Outcome> {
    const args: StackValidationArgs = {
        resources,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable,
    };
    return collect((report) => policy.validateStack(args, report));
}

/** A deep copy of `base` with the value at `path` replaced (undefined deletes the key). */
export function changed<T>(base: T, path: (string | number)[], value: unknown): T {
    const copy = structuredClone(base);
    let node: unknown = copy;
    for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown>)[key];
    const last = path[path.length - 1];
    const parent = node as Record<string | number, unknown>;
    if (value === undefined) delete parent[last];
    else parent[last] = value;
    return copy;
}

/** Asserts the policy reports exactly one violation matching `pattern` (or none when pattern is undefined). */
export async function expectOne(policy: ResourceValidationPolicy, input: ResourceInput, pattern?: RegExp): Promise<void> {
    const { violations, notApplicable } = await runResource(policy, input);
    assert.strictEqual(notApplicable, undefined, `unexpectedly not applicable: ${notApplicable}`);
    if (pattern === undefined) assert.deepStrictEqual(violations, []);
    else {
        assert.strictEqual(violations.length, 1, `expected one violation, got ${JSON.stringify(violations)}`);
        assert.match(violations[0], pattern);
    }
}
