// Loading: the only code that reads Pulumi configuration; validated once, before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { CONFIG_NAMESPACE, ConfigError, describe, invalid } from "./errors";
import { CONFIG_KEYS, Config, schema } from "./schema";

/** Validates raw config (keys without the `backup:` prefix). Throws ConfigError listing every problem. */
export function parseConfig(raw: Record<string, unknown>): Config {
    const result = schema.safeParse(raw);
    if (!result.success) {
        const lines = result.error.issues.map(describe);
        throw invalid(lines);
    }
    return result.data;
}

/** Parses a config value the way `pulumi config set` stores it: JSON where it parses, else the string. */
export function decode(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/**
 * Config namespaces besides `backup:` that a stack may set: the Pulumi engine's and those of the providers the
 * program uses. Anything else is a typo (`bakup:retention`) or a key without a namespace, which Pulumi stores
 * under the project's name (`backup-platform:retention`): either way it would be silently ignored.
 */
export const PROVIDER_NAMESPACES = ["pulumi", "kubernetes", "aws", "random"] as const;

export function strayKey(fullKey: string): string {
    const key = fullKey.slice(fullKey.indexOf(":") + 1);
    const hint = CONFIG_KEYS.includes(key.split(".")[0]) ? `; did you mean ${CONFIG_NAMESPACE}:${key}?` : "";
    return `${fullKey}: unknown config namespace "${fullKey.split(":")[0]}"; allowed namespaces: ${[CONFIG_NAMESPACE, ...PROVIDER_NAMESPACES].join(", ")}${hint}`;
}

/** Config keys whose values must be stored encrypted (`pulumi config set --secret`). */
export const SECRET_KEYS = ["veleroRepositoryPassword"] as const;

/**
 * Validates a flat config map as the engine passes it ("backup:key" -> string); other namespaces are ignored.
 * `isSecret` tells which keys the stack stores encrypted: the keys in SECRET_KEYS must be.
 */
export function parseConfigMap(map: Readonly<Record<string, string>>, isSecret: (fullKey: string) => boolean = () => true): Config {
    const raw: Record<string, unknown> = {};
    const strays: string[] = [];
    for (const [fullKey, value] of Object.entries(map)) {
        const colon = fullKey.indexOf(":");
        const ns = colon < 0 ? "" : fullKey.slice(0, colon);
        const key = fullKey.slice(colon + 1);
        if (ns === CONFIG_NAMESPACE) raw[key] = (SECRET_KEYS as readonly string[]).includes(key) ? value : decode(value);
        else if (!(PROVIDER_NAMESPACES as readonly string[]).includes(ns)) strays.push(fullKey);
    }
    if (strays.length > 0) throw invalid(strays.map(strayKey));
    const plain = SECRET_KEYS.filter((key) => raw[key] !== undefined && !isSecret(`${CONFIG_NAMESPACE}:${key}`));
    if (plain.length > 0) {
        throw invalid(
            plain.map(
                (key) =>
                    `${CONFIG_NAMESPACE}:${key}: must be a secret; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:${key}\` (the value from standard input)`,
            ),
        );
    }
    return parseConfig(raw);
}

/** The SDK's own record of which config keys are secret (marked internal, so not in its typings). */
export const isConfigSecret = (fullKey: string): boolean =>
    (runtimeConfig as unknown as { isConfigSecret(this: void, key: string): boolean }).isConfigSecret(fullKey);

/** Reads every `backup:*` key of the current stack and validates it. */
export function loadConfig(): Config {
    return parseConfigMap(pulumi.runtime.allConfig(), isConfigSecret);
}

/** loadConfig for the program: a config error surfaces as one clear message, without a stack trace. */
export function programConfig(): Config {
    try {
        return loadConfig();
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}
