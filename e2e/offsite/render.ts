// Renders the real program's bare-metal stack with the off-site copy to an existing bucket, against a
// local S3 endpoint, with secret values kept, and prints the resources as JSON for the off-site driver
// (offsite.py). Nothing is mapped here: the driver applies the rendered objects and runs the CronJob's
// container command with its environment, as the kubelet would.
//
//   node bin/e2e/offsite/render.js --endpoint http://127.0.0.1:<port> --dst-endpoint <url> --dst-region <r>
//        --dst-bucket <b> --dst-secret <name> [--prefix <p>] [--bandwidth-limit <v>] [--ca-file <PEM>]
//
// --ca-file sets backup:baremetal.caBundle (an https endpoint signed by a private CA).
import { flagArgs, renderBaremetal, runCli } from "../render-local";

async function run(argv: string[]): Promise<void> {
    const a = flagArgs(argv, ["endpoint", "dst-endpoint", "dst-region", "dst-bucket", "dst-secret"]);
    const resources = await renderBaremetal(a.endpoint, a["ca-file"], {
        "backup:offsite": {
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
        },
    });
    process.stdout.write(`${JSON.stringify({ resources }, null, 2)}\n`);
}

runCli(run);
