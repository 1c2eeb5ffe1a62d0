// Renders the real program for one PostgreSQL database against a local S3 endpoint, with secret
// values kept, and prints the resources as JSON for the PITR driver (pitr.py). Nothing is mapped
// here: the driver reads the rendered objects the way CNPG and the Barman Cloud Plugin would.
//
//   node bin/e2e/pitr/render.js --method <plugin|barmanObjectStore> --endpoint http://127.0.0.1:<port>
//        --database <name> --namespace <ns> [--target-time <RFC 3339>] [--ca-file <PEM>]
//
// --ca-file sets backup:baremetal.caBundle (an https endpoint signed by a private CA).
//
// With --target-time the stack also declares a `cnpg.recoveries` entry to that time, and the output
// carries the drill Cluster the drill runner would create from the rendered template.
import { drillCluster } from "../../drill/manifests";
import { flagArgs, renderBaremetal, runCli } from "../render-local";
import { type DrillTemplate } from "../../core/drill";

/** Suffix of the declared recovery's cluster name. */
export const RECOVERY_SUFFIX = "-pitr";
/** Image the drill copies from the live source (a stand-in source Cluster; the driver runs PostgreSQL 15). */
const SOURCE_IMAGE = "ghcr.io/cloudnative-pg/postgresql:15.10";

async function run(argv: string[]): Promise<void> {
    const a = flagArgs(argv, ["method", "endpoint", "database", "namespace"]);
    const target = a["target-time"];
    const resources = await renderBaremetal(a.endpoint, a["ca-file"], {
        "backup:postgres": [{ name: a.database, namespace: a.namespace }],
        "backup:cnpg": {
            method: a.method,
            ...(target !== undefined
                ? {
                      recoveries: [
                          { from: a.database, name: `${a.database}${RECOVERY_SUFFIX}`, targetTime: target, imageName: SOURCE_IMAGE },
                      ],
                  }
                : {}),
        },
        "backup:drills": { enabled: true },
    });
    let drill: unknown;
    if (target !== undefined) {
        const cm = resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name.endsWith(`-${a.database}-template`));
        const data = (cm?.inputs.data ?? {}) as Record<string, unknown>;
        if (typeof data["template.json"] !== "string") throw new Error(`no drill template rendered for ${a.database}`);
        const template = JSON.parse(data["template.json"]) as DrillTemplate;
        drill = drillCluster(
            template,
            { spec: { imageName: SOURCE_IMAGE } },
            { namespace: a.namespace, targetTime: target, runId: "pitr-e2e", startedAt: new Date().toISOString() },
        );
    }
    process.stdout.write(`${JSON.stringify({ resources, drillCluster: drill }, null, 2)}\n`);
}

runCli(run);
