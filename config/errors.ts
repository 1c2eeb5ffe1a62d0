// Config errors: one shape for every problem, naming the key and what is allowed.
import { z } from "zod";
import { CONFIG_KEYS } from "./schema";

/** Config namespace: keys are written `backup:<key>` in Pulumi.<stack>.yaml. */
export const CONFIG_NAMESPACE = "backup";

/** A config problem; the message names the key and what is allowed. */
export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

export function describe(issue: z.core.$ZodIssue): string {
    const [head, ...rest] = issue.path;
    const key = `${CONFIG_NAMESPACE}:${head === undefined ? "" : String(head)}${rest.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}`;
    switch (issue.code) {
        case "invalid_union":
            // Unions with a message of their own (aws.eks) say what is allowed; zod's default says only "Invalid input".
            if ("options" in issue && Array.isArray(issue.options)) {
                return `${key}: must be one of ${issue.options.join(", ")}`;
            }
            return `${key}: ${issue.message}`;
        case "invalid_key":
            return `${key}: ${issue.issues.map((i) => i.message).join("; ")}`;
        case "invalid_value":
            return `${key}: must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
        case "unrecognized_keys":
            return `${key === `${CONFIG_NAMESPACE}:` ? "config" : key}: unknown key(s) ${issue.keys.join(", ")}${
                issue.path.length === 0 ? `; allowed keys for this platform: ${CONFIG_KEYS.join(", ")}` : ""
            }`;
        case "invalid_type":
            return issue.message.includes("received undefined") ? `${key}: required (${issue.expected})` : `${key}: ${issue.message}`;
        default:
            return `${key}: ${issue.message}`;
    }
}

/** The one shape of every config error: each problem on its own line. */
export function invalid(problems: string[]): ConfigError {
    return new ConfigError(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
}
