// Reads a Pulumi.<stack>.yaml file into the flat config map the engine would pass the program.
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

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

/**
 * Loads a stack file. Objects become JSON strings, as `pulumi config set --path` stores them; `secure:`
 * values cannot be decrypted here and are passed as "[secret]", flagged secret.
 */
export function readStackConfig(file: string): StackConfig {
    const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        if (value !== null && typeof value === "object" && "secure" in value) {
            config[key] = "[secret]";
            secretKeys.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys };
}
