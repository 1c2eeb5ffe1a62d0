// Renders the real program's bare-metal stack with the off-site copy to an existing bucket, against a
// local S3 endpoint, with secret values kept, and prints the resources as JSON for the off-site driver
// (offsite.py). Nothing is mapped here: the driver applies the rendered objects and runs the CronJob's
// container command with its environment, as the kubelet would.
//
//   node bin/e2e/offsite/render.js --endpoint http://127.0.0.1:<port> --dst-endpoint <url> --dst-region <r>
//        --dst-bucket <b> --dst-secret <name> [--prefix <p>] [--bandwidth-limit <v>] [--ca-file <PEM>]
//
// --ca-file sets backup:baremetal.caBundle (an https endpoint signed by a private CA).
import * as fs from "fs";
import { main } from "../../program";
import { record } from "../../scripts/recorder";
import { readStackConfig, stackFile } from "../../scripts/stackfile";

function args(argv: string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i];
        const value = argv[i + 1];
        if (key === undefined || !key.startsWith("--") || value === undefined) throw new Error(`bad arguments near ${key ?? "(end)"}`);
        out[key.slice(2)] = value;
    }
    for (const required of ["endpoint", "dst-endpoint", "dst-region", "dst-bucket", "dst-secret"]) {
        if (out[required] === undefined) throw new Error(`--${required} is required`);
    }
    return out;
}

async function run(argv: string[]): Promise<void> {
    const a = args(argv);
    const { config, secretKeys } = readStackConfig(stackFile("baremetal"));
    const baremetal = JSON.parse(config["backup:baremetal"] ?? "{}") as Record<string, unknown>;
    const overrides: Record<string, string> = {
        "backup:baremetal": JSON.stringify({
            ...baremetal,
            endpoint: a.endpoint,
            ...(a["ca-file"] !== undefined ? { caBundle: fs.readFileSync(a["ca-file"], "utf8") } : {}),
        }),
        "backup:offsite": JSON.stringify({
            enabled: true,
            ...(a.prefix !== undefined ? { prefix: a.prefix } : {}),
            ...(a["bandwidth-limit"] !== undefined ? { bandwidthLimit: a["bandwidth-limit"] } : {}),
            destination: {
                endpoint: a["dst-endpoint"],
                region: a["dst-region"],
                bucket: a["dst-bucket"],
                provider: "Ceph",
                credentialsSecret: { name: a["dst-secret"] },
            },
        }),
    };
    const { resources } = await record(main, { stack: "baremetal", config: { ...config, ...overrides }, secretKeys, reveal: true });
    process.stdout.write(`${JSON.stringify({ resources }, null, 2)}\n`);
}

run(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
