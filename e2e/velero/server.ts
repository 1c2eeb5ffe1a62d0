// The real `velero server` (built from Go modules by e2e/toolchain.sh) run outside a pod, from the Deployment the
// upstream chart rendered: its args, its env, its volumes (Secrets written to files as the kubelet would mount them,
// the plugin copied into the plugins volume as the chart's init container does). Shared by the Velero proof
// (e2e/test/velero.e2e.ts) and `npm run demo`, so both run Velero the same way.
// The pod's pieces are in e2e/velero/pod.ts, the binaries and helpers in e2e/velero/tools.ts, the application it
// backs up in e2e/velero/application.ts.
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, parseAllDocuments } from "yaml";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { FIXTURES, ROOT } from "../harness";
import { chartContainer, installPlugin, localPath, podEnv, podVolumes, serverArgs } from "./pod";
import { baseEnv, listBucket, parseCredentials, portFree, sh, sleep, VELERO_BIN, waitFor, type Credentials } from "./tools";

type Obj = Record<string, unknown>;

/** The phases of a Backup or Restore that are still running. */
export const RUNNING = [
    "New",
    "Queued",
    "ReadyToStart",
    "InProgress",
    "WaitingForPluginOperations",
    "Finalizing",
    "FinalizingPartiallyFailed",
];

async function established(k: Kube, name: string): Promise<void> {
    const p = apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name);
    await waitFor(`CRD ${name} Established`, 60, async () => {
        const conds = (((await k.get(p))?.status as Obj | undefined)?.conditions as Obj[] | undefined) ?? [];
        return conds.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
    });
}

/**
 * Upgrades the chart's Velero CRDs (appVersion 1.17.1) to the server's own, as Velero's upgrade guide does
 * (`velero install --crds-only --dry-run -o json`, applied server-side), and adds the CSI snapshot kinds a CSI-capable
 * cluster has (stand-ins, e2e/velero/snapshot-crds.yaml). Velero 1.18 added Backup phases (Queued, ReadyToStart) the
 * 1.17 CRDs reject: with the chart's CRDs the 1.18.3 server loops on `status.phase: Unsupported value: "Queued"`.
 * Returns the names of the chart's CRDs whose schema the upgrade changes; throws if the chart did not apply one.
 */
export async function upgradeCrds(k: Kube, tmp: string): Promise<string[]> {
    const list = { items: serverCrds(tmp) };
    const crdDir = path.join(FIXTURES, "charts", "velero-11.3.2", "crds");
    const chartCrds = new Map(
        fs.readdirSync(crdDir).map((f) => {
            const doc = parse(fs.readFileSync(path.join(crdDir, f), "utf8")) as KubeObject;
            return [(doc.metadata as Obj).name as string, doc];
        }),
    );
    const changed: string[] = [];
    for (const crd of list.items) {
        const name = (crd.metadata as Obj).name as string;
        const p = apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name);
        if (!(await k.get(p))) throw new Error(`CRD ${name} was not applied by the chart`);
        if (crdSchemas(chartCrds.get(name) ?? {}) !== crdSchemas(crd)) changed.push(name);
        const metadata = { ...(crd.metadata as Obj) };
        delete metadata.creationTimestamp;
        await k.apply(p, { ...crd, metadata, status: undefined }, "velero-crd-upgrade");
    }
    await applySnapshotCrds(k);
    return changed;
}

/** The server's own CRDs, as the chart's CRD Job and Velero's upgrade guide print them (`velero install --crds-only`). */
export function serverCrds(tmp: string): KubeObject[] {
    const out = sh(VELERO_BIN, ["install", "--crds-only", "--dry-run", "-o", "json"], baseEnv(tmp), "velero install --crds-only");
    return (JSON.parse(out) as { items: KubeObject[] }).items;
}

/** The schemas of a CRD's versions, to compare two CRDs by what they validate. */
const crdSchemas = (o: KubeObject) =>
    JSON.stringify((((o.spec as Obj | undefined)?.versions as Obj[] | undefined) ?? []).map((v) => v.schema));

/** The CSI snapshot kinds a CSI-capable cluster has, which Velero's EnableCSI watches (stand-ins, snapshot-crds.yaml). */
export async function applySnapshotCrds(k: Kube): Promise<void> {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(ROOT, "e2e", "velero", "snapshot-crds.yaml"), "utf8"))) {
        const crd = doc.toJS() as KubeObject;
        const name = (crd.metadata as Obj).name as string;
        await k.apply(apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name), crd, "e2e-csi-snapshot-standin");
        await established(k, name);
    }
}

/**
 * Waits until the Rook stand-in has bound the program's Velero bucket claim and made the users its policy names
 * (Velero's and the bucket owner's), and returns the claim.
 */
export async function veleroBucketReady(k: Kube): Promise<KubeObject> {
    const claim = await waitFor("ObjectBucketClaim velero-backups Bound", 180, async () => {
        const o = await k.get(apiPath("objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "velero-backups"));
        return (o?.status as Obj | undefined)?.phase === "Bound" ? o : undefined;
    });
    for (const u of ["backup-velero", "backup-owner"]) {
        await waitFor(`CephObjectStoreUser ${u} Ready`, 120, async () => {
            const o = await k.get(apiPath("ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", u));
            return (o?.status as Obj | undefined)?.phase === "Ready" ? o : undefined;
        });
    }
    return claim;
}

/**
 * Hands Velero's CRDs back once the suite that upgraded them is done: drops the "velero-crd-upgrade" entry from each
 * CRD's managedFields, so the fields it owned are owned by nobody and the next suite's `pulumi up` applies the chart's
 * CRDs over them without a server-side apply conflict. The program retains the CRDs on destroy (deleting them deletes
 * every Backup object); deleting them here is no way out either: Velero's finalizers on the Backups and Restores left
 * behind hold the deletion once no server runs.
 */
export async function releaseUpgradedCrds(k: Kube): Promise<number> {
    let released = 0;
    for (const crd of await k.list(apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions"))) {
        const meta = crd.metadata as Obj;
        const fields = (meta.managedFields as { manager?: string }[] | undefined) ?? [];
        const kept = fields.filter((f) => f.manager !== "velero-crd-upgrade");
        if (kept.length === fields.length) continue;
        const p = apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, meta.name as string);
        // An empty list would leave managedFields as they are; [{}] is the API's way to clear them.
        await k.request("PATCH", p, { metadata: { managedFields: kept.length > 0 ? kept : [{}] } }, "application/merge-patch+json");
        released++;
    }
    return released;
}

/** A running `velero server` and the CLI beside it, pointed at the local API server. */
export class VeleroServer {
    /** Every command line run, for the test's closing log. */
    readonly ran: string[] = [];
    /** The BackupStorageLocation `default` once Available. */
    location: KubeObject = {};

    private constructor(
        private readonly k: Kube,
        private readonly kubeconfig: string,
        readonly namespace: string,
        /** The environment the pod would have (its env, with paths mapped to the local volume dirs). */
        readonly env: NodeJS.ProcessEnv,
        /** The keys in the credentials file the chart's pod mounts (from the Secret the program created). */
        readonly credentials: Credentials,
        readonly logFile: string,
        private readonly child: ChildProcess,
    ) {}

    /**
     * Starts the server from Deployment `<namespace>/velero` as the chart rendered it: the chart's args with what only
     * a pod has replaced (the in-cluster config by --kubeconfig, paths by local volume dirs, listen addresses by free
     * loopback ports); waits for the BackupStorageLocation `default` to become Available (its error log tail if not).
     */
    static async start(
        k: Kube,
        kubeconfig: string,
        tmp: string,
        namespace = "velero",
        say: (s: string) => void = () => undefined,
    ): Promise<VeleroServer> {
        if (!(await portFree(8080)))
            throw new Error("port 8080 is taken (controller-runtime's metrics server binds :8080): run one Velero server at a time");
        const { podSpec, container, args } = await chartContainer(k, namespace);
        say(`chart's container: ${(container.command as string[]).join(" ")} ${args.join(" ")}`);

        const mounts = await podVolumes(k, tmp, namespace, podSpec, container);
        const plugins = installPlugin(mounts);
        const local = (v: string) => localPath(mounts, v);
        const env = podEnv(container, namespace, tmp, local);
        const credFile = env.AWS_SHARED_CREDENTIALS_FILE ?? "";
        if (!credFile || !fs.existsSync(credFile))
            throw new Error(`AWS_SHARED_CREDENTIALS_FILE (${credFile}) missing: the chart's credentials Secret was not mounted`);
        const credentials = parseCredentials(fs.readFileSync(credFile, "utf8"));

        const argv = await serverArgs(args, local, { kubeconfig, plugins, namespace });
        const cmdline = `${Object.entries(env)
            .filter(([key]) => key !== "PATH")
            .map(([key, v]) => `${key}=${v ?? ""}`)
            .join(" ")} velero ${argv.join(" ")}`;
        say(`$ ${cmdline}`);
        const logFile = path.join(tmp, "velero-server.log");
        const fd = fs.openSync(logFile, "a");
        const child = spawn(VELERO_BIN, argv, { env, stdio: ["ignore", fd, fd] });
        fs.closeSync(fd);
        say(`velero server pid ${String(child.pid)}, log ${logFile}`);
        const server = new VeleroServer(k, kubeconfig, namespace, env, credentials, logFile, child);
        server.ran.push(cmdline);
        const t0 = Date.now();
        try {
            server.location = await waitFor("BackupStorageLocation default Available", 180, async () => {
                server.assertRunning();
                const o = await server.get("backupstoragelocations", "default");
                return (o?.status as Obj | undefined)?.phase === "Available" ? o : undefined;
            });
        } catch (err) {
            await server.stop();
            throw new Error(`${(err as Error).message}\n${server.logTail(40)}`);
        }
        say(`BackupStorageLocation default Available ${((Date.now() - t0) / 1000).toFixed(1)} s after the server started`);
        return server;
    }

    /** Bucket and prefix of the Available location. */
    get bucket(): string {
        return (((this.location.spec as Obj).objectStorage as Obj).bucket as string) ?? "";
    }
    get prefix(): string {
        return ((((this.location.spec as Obj).objectStorage as Obj).prefix as string | undefined) ?? "").replace(/\/+$/, "");
    }

    get pid(): number | undefined {
        return this.child.pid;
    }

    private assertRunning(): void {
        if (this.child.exitCode !== null) throw new Error(`velero server exited ${String(this.child.exitCode)}:\n${this.logTail(15)}`);
    }

    logTail(lines: number, filter?: RegExp): string {
        if (!fs.existsSync(this.logFile)) return "";
        const all = fs.readFileSync(this.logFile, "utf8").split("\n");
        return (filter ? all.filter((l) => filter.test(l)) : all).slice(-lines).join("\n");
    }

    get(plural: string, name: string): Promise<KubeObject | undefined> {
        return this.k.get(apiPath("velero.io", "v1", plural, this.namespace, name));
    }

    /** The velero CLI against the local API server (bounded: `describe --details` can wait on download requests). */
    cli(args: string[], allowFailure = false): string {
        const full = [...args, "--namespace", this.namespace, "--kubeconfig", this.kubeconfig];
        this.ran.push(`velero ${full.join(" ")}`);
        const res = spawnSync(VELERO_BIN, full, { env: this.env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
        if (res.status !== 0 && !allowFailure)
            throw new Error(`velero ${args.join(" ")} failed (exit ${String(res.status)}):\n${res.stdout}\n${res.stderr}`);
        return res.stdout + res.stderr;
    }

    /** Waits for a Backup or Restore to leave its running phases; returns it. */
    finished(plural: "backups" | "restores", name: string, seconds = 300): Promise<KubeObject> {
        return waitFor(`${plural} ${name} to finish`, seconds, async () => {
            this.assertRunning();
            const o = await this.get(plural, name);
            const phase = (o?.status as Obj | undefined)?.phase as string | undefined;
            return phase && !RUNNING.includes(phase) ? o : undefined;
        });
    }

    /** Keys under `prefix` in the location's bucket, listed with the server's own credentials. */
    list(prefix: string, endpoint: string): string[] {
        return listBucket(endpoint, this.bucket, prefix, this.credentials);
    }

    /** SIGTERM by pid, SIGKILL after 20 s. */
    async stop(): Promise<void> {
        const child = this.child;
        if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(20_000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
}
