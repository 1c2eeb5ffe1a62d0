// Runs the real program under Pulumi's mock runtime and records every registration, with the
// data-safety options the mock API hides (the wrapped monitor sees the full request).
import * as pulumi from "@pulumi/pulumi";

/** One registered resource as `npm run render` prints it. */
export interface Recorded {
    type: string;
    name: string;
    /** Parent's "type::name", or undefined for top-level resources. */
    parent?: string;
    inputs: Record<string, unknown>;
    options: { protect?: true; retainOnDelete?: true; dependsOn?: string[]; additionalSecretOutputs?: string[]; provider?: string };
}

const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The text printed in place of every secret value. */
export const MASK = "[secret]";

/** Replaces secrets with MASK (or keeps them, for tests that check wiring), resource refs with their URN. */
function clean(value: unknown, reveal: boolean): unknown {
    if (value === UNKNOWN) return "[unknown]";
    if (Array.isArray(value)) return value.map((v) => clean(v, reveal));
    if (value !== null && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[SIG] === SECRET_SIG) return reveal ? { secret: clean(obj.value, reveal) } : MASK;
        if (obj[SIG] === RESOURCE_SIG) return { resource: obj.urn };
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, clean(v, reveal)]));
    }
    return value;
}

function shortUrn(urn: string): string {
    const parts = urn.split("::");
    return `${(parts[2] ?? "").split("$").pop() ?? ""}::${parts[3] ?? ""}`;
}

/** Values the mock "cloud" returns for outputs the program reads back. */
function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const account = "123456789012";
    switch (type) {
        case "aws:s3/bucket:Bucket":
            return { arn: `arn:aws:s3:::${String(inputs.bucket)}`, bucket: inputs.bucket };
        case "aws:kms/key:Key":
            return { arn: `arn:aws:kms:af-south-1:${account}:key/${name}`, keyId: `${name}-key-id` };
        case "aws:iam/role:Role":
            return { arn: `arn:aws:iam::${account}:role/backup/${name}`, name };
        case "aws:iam/policy:Policy":
            return { arn: `arn:aws:iam::${account}:policy/backup/${name}` };
        case "aws:iam/user:User":
            return { arn: `arn:aws:iam::${account}:user/backup/${name}`, name };
        case "aws:iam/accessKey:AccessKey":
            return { id: "AKIAMOCKRENDER000000", secret: "mock-secret-access-key" };
        case "random:index/randomString:RandomString":
        case "random:index/randomPassword:RandomPassword":
            // Derived from the resource name, so wiring tests can tell which key ended up where.
            return {
                result: name
                    .replace(/[^A-Za-z0-9]/g, "")
                    .padEnd(Number(inputs.length ?? 16), "0")
                    .slice(0, Number(inputs.length ?? 16)),
            };
        default:
            return {};
    }
}

/** Answers the invokes the program makes; any other invoke is a bug and throws. */
function call(token: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (token) {
        case "aws:eks/getCluster:getCluster":
            return {
                name: inputs.name,
                identities: [{ oidcs: [{ issuer: "https://oidc.eks.af-south-1.amazonaws.com/id/MOCKOIDCISSUER0000000000000000000" }] }],
            };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: "123456789012", arn: "arn:aws:iam::123456789012:user/render", userId: "render" };
        default:
            throw new Error(`unexpected invoke ${token}: the mock runtime answers only the lookups the program is known to make`);
    }
}

export interface RecordOptions {
    /** Stack name. */
    stack: string;
    /** Full config map, keys like "backup:platform", values as the engine passes them (strings). */
    config: Record<string, string>;
    /** Config keys whose values are secret. */
    secretKeys?: string[];
    /** Keep secret values (wrapped as {secret: value}) instead of masking; for wiring tests only. */
    reveal?: boolean;
}

export interface RecordResult {
    resources: Recorded[];
    outputs: Record<string, unknown>;
    /** performance.now() when the first resource was registered (cold-start measurements). */
    firstRegistrationMs?: number;
}

/**
 * Evaluates `program` under mocks and returns every registration. The program's own error (e.g. a
 * config error) is rethrown as is.
 */
export async function record(program: () => Promise<Record<string, unknown>>, opts: RecordOptions): Promise<RecordResult> {
    await mockRuntime(opts);
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, cb: (err: unknown, res: unknown) => void): void;
    };
    const resources: Recorded[] = [];
    let pending = 0;
    let firstRegistrationMs: number | undefined;
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        pending++;
        firstRegistrationMs ??= performance.now();
        resources.push(recorded(req, opts.reveal ?? false));
        original(req, (err, res) => {
            pending--;
            cb(err, res);
        });
    };
    let rawOutputs: Record<string, unknown>;
    try {
        rawOutputs = await program();
    } catch (err) {
        // Lets callers prove that a failing program registered nothing.
        if (err instanceof Error) Object.assign(err, { registered: resources.length });
        throw err;
    }
    const outputs = (await resolveDeep(rawOutputs)) as Record<string, unknown>;
    // Registrations started inside apply() callbacks may still be in flight: wait until quiet.
    for (let quiet = 0; quiet < 3;) {
        await new Promise((r) => setImmediate(r));
        quiet = pending === 0 ? quiet + 1 : 0;
    }
    resources.sort((a, b) => (a.type === b.type ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type < b.type ? -1 : 1));
    return { resources, outputs: clean(outputs, opts.reveal ?? false) as Record<string, unknown>, firstRegistrationMs };
}

/** Sets the stack's config and Pulumi's mock runtime, whose "cloud" answers with `computed` and `call`. */
async function mockRuntime(opts: RecordOptions): Promise<void> {
    pulumi.runtime.setAllConfig(opts.config, opts.secretKeys ?? []);
    await pulumi.runtime.setMocks(
        {
            newResource: (args: pulumi.runtime.MockResourceArgs) => {
                const inputs = args.inputs as Record<string, unknown>;
                const state: Record<string, unknown> = { ...inputs, ...computed(args.type, args.name, inputs) };
                return { id: typeof state.id === "string" ? state.id : `${args.name}-id`, state };
            },
            call: (args: pulumi.runtime.MockCallArgs) => call(args.token, args.inputs as Record<string, unknown>),
        },
        "backup-platform",
        opts.stack,
        false,
    );
}

/** One registration request as recorded: type, name, parent, cleaned inputs, and the options that were set. */
function recorded(req: RegisterRequest, reveal: boolean): Recorded {
    const options: Recorded["options"] = {};
    if (req.getProtect()) options.protect = true;
    if (req.getRetainondelete()) options.retainOnDelete = true;
    const deps = req.getDependenciesList().map(shortUrn).sort();
    if (deps.length > 0) options.dependsOn = deps;
    const secretOutputs = req.getAdditionalsecretoutputsList();
    if (secretOutputs.length > 0) options.additionalSecretOutputs = secretOutputs;
    // A reference is "<provider URN>::<id>"; which provider (and so which cluster or account) a resource goes to.
    const provider = req.getProvider();
    if (provider) options.provider = shortUrn(provider);
    return {
        type: req.getType(),
        name: req.getName(),
        ...(req.getParent() ? { parent: shortUrn(req.getParent()) } : {}),
        inputs: (clean(req.getObject()?.toJavaScript() ?? {}, reveal) ?? {}) as Record<string, unknown>,
        options,
    };
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getDependenciesList(): string[];
    getAdditionalsecretoutputsList(): string[];
    getProvider(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** Resolves Outputs inside a plain structure; secret outputs come back wrapped so they can be masked. */
async function resolveDeep(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const out = value;
        const [inner, secret] = await Promise.all([
            new Promise<unknown>((resolve) => out.apply((v) => resolve(v))),
            (out as unknown as { isSecret: Promise<boolean> }).isSecret,
        ]);
        const resolved = await resolveDeep(inner);
        return secret ? { [SIG]: SECRET_SIG, value: resolved } : resolved;
    }
    if (Array.isArray(value)) return Promise.all(value.map(resolveDeep));
    if (value !== null && typeof value === "object") {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveDeep(v)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}
