// `npm run demo`: the main job on a local default, ending with a backup and a restore you can watch.
// 1. Builds the toolchain (Go modules, cached by version), starts a local control plane (etcd + kube-apiserver on
//    127.0.0.1, the upstream CRDs, the application teams' CNPG Clusters), a real Ceph RGW (e2e/objectstore.sh) and the
//    Rook stand-in that turns the program's CephObjectStoreUsers and ObjectBucketClaims into RGW users and buckets.
// 2. Runs `pulumi up --stack baremetal --yes` with the upstream charts and a local file:// backend, and prints the
//    stack outputs and what now exists in the cluster.
// 3. Starts the real `velero server` from the Deployment the chart rendered (e2e/velero/server.ts), backs up an
//    application namespace, prints where the backup's objects are in the bucket, deletes the namespace and restores it,
//    and shows every object back with its data.
// Against a real cluster: `pulumi up --stack baremetal`.
import type { ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    installRook,
    kube,
    localOverrides,
    objectStoreEnv,
    objectStoreOverrides,
    ROOT,
    startCluster,
    startObjectStore,
    startRook,
    stopRook,
    toolchainEnv,
} from "./harness";
import { Workspace } from "./workspace";
import { createApplication, deleteNamespace, restoredContent } from "./velero/application";
import { upgradeCrds, VeleroServer } from "./velero/server";
import { buildVelero, waitFor } from "./velero/tools";
import { apiPath, type Kube, type KubeObject } from "../kube/client";

type Obj = Record<string, unknown>;
const APP_NS = "demo-shop";

const LISTS: [string, string, string, string][] = [
    ["CephObjectStoreUser", "ceph.rook.io", "v1", "cephobjectstoreusers"],
    ["ObjectBucketClaim", "objectbucket.io", "v1alpha1", "objectbucketclaims"],
    ["ObjectStore", "barmancloud.cnpg.io", "v1", "objectstores"],
    ["ScheduledBackup", "postgresql.cnpg.io", "v1", "scheduledbackups"],
    ["CronJob", "batch", "v1", "cronjobs"],
    ["PrometheusRule", "monitoring.coreos.com", "v1", "prometheusrules"],
    ["Deployment", "apps", "v1", "deployments"],
    ["BackupStorageLocation", "velero.io", "v1", "backupstoragelocations"],
    ["Schedule", "velero.io", "v1", "schedules"],
];

const say = (s: string) => process.stderr.write(`\n== ${s}\n`);
const secs = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

function columns(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return `${rows
        .map((r) =>
            r
                .map((c, i) => c.padEnd(widths[i]))
                .join("  ")
                .trimEnd(),
        )
        .join("\n")}\n`;
}

async function inventory(k: Kube): Promise<string> {
    const rows: string[][] = [["KIND", "NAMESPACE", "NAME", "PHASE"]];
    const phase = (o: KubeObject) => String(((o.status as Obj | undefined)?.phase as string | undefined) ?? "");
    for (const [kind, group, version, plural] of LISTS) {
        for (const o of await k.list(apiPath(group, version, plural)))
            rows.push([kind, o.metadata?.namespace ?? "", o.metadata?.name ?? "", phase(o)]);
    }
    const secrets = (await k.list(apiPath("", "v1", "secrets"))).filter((s) => /s3|credentials|keys/.test(s.metadata?.name ?? ""));
    for (const s of secrets) rows.push(["Secret", s.metadata?.namespace ?? "", s.metadata?.name ?? "", ""]);
    return columns(rows);
}

/** Back up an application namespace, show the objects in the bucket, delete the namespace, restore it, compare. */
async function backupAndRestore(k: Kube, velero: VeleroServer, endpoint: string): Promise<boolean> {
    const name = `demo-${new Date()
        .toISOString()
        .replace(/[-:T]/g, "")
        .replace(/\..*$/, "")
        .replace(/^(\d{8})/, "$1-")}`;
    say(`an application namespace to protect: ${APP_NS} (ConfigMaps, Secrets, a CNPG Cluster)`);
    const before = await createApplication(k, APP_NS);
    for (const p of before.keys()) process.stdout.write(`  ${p}\n`);

    say(`velero backup create ${name} --include-namespaces ${APP_NS}`);
    let t0 = Date.now();
    velero.cli(["backup", "create", name, "--include-namespaces", APP_NS]);
    const backup = (await velero.finished("backups", name)).status as Obj;
    process.stdout.write(`backup ${name}: ${String(backup.phase)} in ${secs(t0)}, ${JSON.stringify(backup.progress)}\n`);
    if (backup.phase !== "Completed") {
        process.stdout.write(velero.cli(["backup", "describe", name, "--details"], true));
        return false;
    }
    const dir = `${velero.prefix === "" ? "" : `${velero.prefix}/`}backups/${name}/`;
    say(`where the backup is: s3://${velero.bucket}/${dir} on ${endpoint} (listed with the Velero user's keys)`);
    for (const key of velero.list(dir, endpoint)) process.stdout.write(`  s3://${velero.bucket}/${key}\n`);

    say(`kubectl delete namespace ${APP_NS}`);
    t0 = Date.now();
    await deleteNamespace(k, APP_NS);
    const left = (await Promise.all([...before.keys()].map((p) => k.get(p)))).filter((o) => o !== undefined).length;
    process.stdout.write(`namespace ${APP_NS} gone in ${secs(t0)}; ${left} of ${before.size} objects left\n`);

    say(`velero restore create ${name}-restore --from-backup ${name}`);
    t0 = Date.now();
    velero.cli(["restore", "create", `${name}-restore`, "--from-backup", name]);
    const restore = (await velero.finished("restores", `${name}-restore`)).status as Obj;
    process.stdout.write(`restore ${name}-restore: ${String(restore.phase)} in ${secs(t0)}, ${JSON.stringify(restore.progress)}\n`);
    const rows: string[][] = [["OBJECT", "RESTORED", "SAME DATA"]];
    let ok = restore.phase === "Completed";
    for (const [p, o] of before) {
        const after = await k.get(p);
        const same =
            after !== undefined &&
            JSON.stringify(restoredContent(after)) === JSON.stringify(restoredContent(o)) &&
            (o.kind !== "Cluster" || JSON.stringify(after.spec) === JSON.stringify(o.spec));
        ok &&= same;
        rows.push([p.split("/").slice(-3).join("/"), after ? "yes" : "NO", same ? "yes" : "NO"]);
    }
    process.stdout.write(columns(rows));
    return ok;
}

async function main(): Promise<number> {
    say("toolchain (first run builds from Go modules: ~25 min on 2 cores; then seconds)");
    const env = objectStoreEnv(toolchainEnv());
    say("local control plane");
    const kubeconfig = startCluster(env);
    say("object store: Ceph RGW on 127.0.0.1 (first run installs Debian's ceph packages with apt-get, as root)");
    const store = startObjectStore(env);
    process.stdout.write(`S3 endpoint ${store.endpoint}\n`);
    const k = kube(kubeconfig);
    const dir = path.join(ROOT, ".pulumi-local", "baremetal");
    fs.mkdirSync(dir, { recursive: true });
    let rook: ChildProcess | undefined;
    let velero: VeleroServer | undefined;
    let tmp: string | undefined;
    try {
        await installRook(k);
        const rookLog = path.join(dir, "rook-standin.log");
        rook = startRook(env, kubeconfig, store, rookLog);
        process.stdout.write(`Rook stand-in pid ${String(rook.pid)}, log ${rookLog}\n`);

        const ws = new Workspace("baremetal", env, kubeconfig, dir);
        ws.init({ ...localOverrides(), ...objectStoreOverrides(store) });
        say(`pulumi up --stack baremetal --yes --refresh  (workspace ${dir}, state in ${path.join(dir, "state")})`);
        // --refresh: the state may predate this control plane (a purged cluster), so read what really exists first.
        ws.pulumi(["up", "--yes", "--refresh", "--stack", "baremetal"], { stream: true });
        say("stack outputs");
        process.stdout.write(`${JSON.stringify(ws.outputs(), null, 2)}\n`);

        say("velero server and its AWS plugin (first run builds them from Go modules: ~17 min on 2 cores; then seconds)");
        buildVelero(env);
        await waitFor("ObjectBucketClaim velero-backups Bound (the Rook stand-in)", 180, async () => {
            const o = await k.get(apiPath("objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "velero-backups"));
            return (o?.status as Obj | undefined)?.phase === "Bound" ? true : undefined;
        });
        say("what now exists in the cluster");
        process.stdout.write(await inventory(k));

        say("velero server, run from the Deployment the chart rendered (the 1.18.3 server's CRDs replace the chart's 1.17.1 ones)");
        tmp = fs.mkdtempSync(path.join(dir, "velero-"));
        await upgradeCrds(k, tmp);
        velero = await VeleroServer.start(k, kubeconfig, tmp, "velero", (s) => process.stdout.write(`${s}\n`));
        const ok = await backupAndRestore(k, velero, store.endpoint);
        say(ok ? "backup and restore: every object came back with its data" : "backup or restore FAILED (see above)");
        process.stderr.write(
            `\nThe control plane and the object store keep running:\n` +
                `  KUBECONFIG=${kubeconfig} kubectl get backups.velero.io,restores.velero.io -n velero\n` +
                `  S3 endpoint ${store.endpoint} (keys in the Secrets above; bucket ${velero.bucket})\n` +
                `Stop them with: bash e2e/objectstore.sh stop && bash e2e/cluster.sh stop\n`,
        );
        return ok ? 0 : 1;
    } finally {
        if (velero) await velero.stop();
        // The pod's volumes hold the credentials file written from the Secret: keep only the server's log.
        if (tmp) for (const d of ["volumes", "home", "tmpdir"]) fs.rmSync(path.join(tmp, d), { recursive: true, force: true });
        if (rook) await stopRook(rook);
        k.close();
    }
}

main().then(
    (code) => process.exit(code),
    (err: unknown) => {
        process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
    },
);
