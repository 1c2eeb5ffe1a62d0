// `npm run demo`: the main job on a local default. Builds the toolchain (Go modules, cached), starts a
// local control plane (etcd + kube-apiserver on 127.0.0.1, the upstream CRDs, the application teams'
// CNPG Clusters), then runs `pulumi up --stack baremetal --yes` with a local file:// backend and prints
// the stack outputs and what now exists in the cluster. Against a real cluster: `pulumi up --stack baremetal`.
import * as fs from "fs";
import * as path from "path";
import { kube, localOverrides, ROOT, startCluster, toolchainEnv, Workspace } from "../e2e/harness";
import { apiPath } from "./kube";

const LISTS: [string, string, string, string][] = [
    ["CephObjectStoreUser", "ceph.rook.io", "v1", "cephobjectstoreusers"],
    ["ObjectBucketClaim", "objectbucket.io", "v1alpha1", "objectbucketclaims"],
    ["ObjectStore", "barmancloud.cnpg.io", "v1", "objectstores"],
    ["ScheduledBackup", "postgresql.cnpg.io", "v1", "scheduledbackups"],
    ["CronJob", "batch", "v1", "cronjobs"],
    ["PrometheusRule", "monitoring.coreos.com", "v1", "prometheusrules"],
    ["Deployment", "apps", "v1", "deployments"],
];

async function main(): Promise<void> {
    const say = (s: string) => process.stderr.write(`\n== ${s}\n`);
    say("toolchain (first run builds from Go modules: ~25 min on 2 cores; then seconds)");
    const env = toolchainEnv();
    say("local control plane");
    const kubeconfig = startCluster(env);
    const dir = path.join(ROOT, ".pulumi-local", "baremetal");
    fs.mkdirSync(dir, { recursive: true });
    const ws = new Workspace("baremetal", env, kubeconfig, dir);
    ws.init(localOverrides());
    say(`pulumi up --stack baremetal --yes  (workspace ${dir}, state in ${path.join(dir, "state")})`);
    ws.pulumi(["up", "--yes", "--stack", "baremetal"], { stream: true });
    say("stack outputs");
    process.stdout.write(`${JSON.stringify(ws.outputs(), null, 2)}\n`);
    say("what now exists in the cluster");
    const k = kube(kubeconfig);
    try {
        const rows: string[][] = [["KIND", "NAMESPACE", "NAME"]];
        for (const [kind, group, version, plural] of LISTS) {
            for (const o of await k.list(apiPath(group, version, plural)))
                rows.push([kind, o.metadata?.namespace ?? "", o.metadata?.name ?? ""]);
        }
        const secrets = (await k.list(apiPath("", "v1", "secrets"))).filter((s) => /s3|credentials|keys/.test(s.metadata?.name ?? ""));
        for (const s of secrets) rows.push(["Secret", s.metadata?.namespace ?? "", s.metadata?.name ?? ""]);
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        process.stdout.write(
            `${rows
                .map((r) =>
                    r
                        .map((c, i) => c.padEnd(widths[i]))
                        .join("  ")
                        .trimEnd(),
                )
                .join("\n")}\n`,
        );
    } finally {
        k.close();
    }
    process.stderr.write(
        `\nThe control plane keeps running: KUBECONFIG=${kubeconfig} kubectl get clusters.postgresql.cnpg.io -A\n` +
            `Stop it with: bash e2e/cluster.sh stop\n`,
    );
}

main().catch((err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
});
