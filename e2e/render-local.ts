// What the e2e drivers (e2e/pitr, e2e/offsite) share to render the real program's bare-metal stack against a local
// S3 endpoint, with secret values kept, and print it as JSON for the Python side.
import * as fs from "fs";
import { main } from "../program";
import { record, type Recorded } from "../cli/recorder";
import { readStackConfig, stackFile } from "../cli/stackfile";

/** `--key value` pairs as a record; `required` keys must be present. */
export function flagArgs(argv: string[], required: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i];
        const value = argv[i + 1];
        if (key === undefined || !key.startsWith("--") || value === undefined) throw new Error(`bad arguments near ${key ?? "(end)"}`);
        out[key.slice(2)] = value;
    }
    for (const key of required) {
        if (out[key] === undefined) throw new Error(`--${key} is required`);
    }
    return out;
}

/**
 * Renders `Pulumi.baremetal.yaml` with `backup:baremetal.endpoint` pointed at `endpoint` (and its caBundle read from
 * `caFile`, for an https endpoint signed by a private CA), plus `overrides` (full keys, JSON values), secrets revealed.
 */
export async function renderBaremetal(
    endpoint: string,
    caFile: string | undefined,
    overrides: Record<string, unknown>,
): Promise<Recorded[]> {
    const { config, secretKeys } = readStackConfig(stackFile("baremetal"));
    const baremetal = JSON.parse(config["backup:baremetal"] ?? "{}") as Record<string, unknown>;
    const local: Record<string, string> = {
        "backup:baremetal": JSON.stringify({
            ...baremetal,
            endpoint,
            ...(caFile !== undefined ? { caBundle: fs.readFileSync(caFile, "utf8") } : {}),
        }),
    };
    for (const [key, value] of Object.entries(overrides)) local[key] = JSON.stringify(value);
    const { resources } = await record(main, { stack: "baremetal", config: { ...config, ...local }, secretKeys, reveal: true });
    return resources;
}

/** Runs a driver's main with its arguments; an error is one line on stderr and exit 1. */
export function runCli(run: (argv: string[]) => Promise<void>): void {
    run(process.argv.slice(2)).catch((err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
    });
}
