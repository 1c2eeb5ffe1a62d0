// The real `velero server` (built from Go modules by e2e/toolchain.sh) run outside a pod, from the Deployment the
// upstream chart rendered: its args, its env, its volumes (Secrets written to files as the kubelet would mount them,
// the plugin copied into the plugins volume as the chart's init container does). Shared by the Velero proof
// (e2e/test/velero.e2e.ts) and `npm run demo`, so both run Velero the same way.
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { parse, parseAllDocuments } from "yaml";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { FIXTURES, ROOT } from "../harness";

type Obj = Record<string, unknown>;

const CACHE =
    process.env.BACKUP_PLATFORM_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "k8s-backup-platform");

/** e2e/versions.env as a record. */
export const VERSIONS: Record<string, string> = Object.fromEntries(
    fs
        .readFileSync(path.join(ROOT, "e2e", "versions.env"), "utf8")
        .split("\n")
        .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], m[2]]),
);
export const VELERO_BIN = path.join(CACHE, "bin", `velero-${VERSIONS.VELERO_VERSION}`, "velero");
const AWS_PLUGIN = path.join(CACHE, "bin", `velero-plugin-for-aws-${VERSIONS.VELERO_PLUGIN_FOR_AWS_VERSION}`, "velero-plugin-for-aws");
/** The phases of a Backup or Restore that are still running. */
const RUNNING = ["New", "Queued", "ReadyToStart", "InProgress", "WaitingForPluginOperations", "Finalizing", "FinalizingPartiallyFailed"];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, seconds: number, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const last = await fn();
        if (last !== undefined) return last;
        await sleep(1000);
    }
    throw new Error(`timed out after ${seconds} s waiting for ${what}`);
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

/** controller-runtime's metrics server binds :8080 on every interface (no flag changes it): it must be free. */
export function portFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        srv.listen(port, () => srv.close(() => resolve(true)));
    });
}

export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): string {
    const res = spawnSync(cmd, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0)
        throw new Error(`${what} failed (exit ${String(res.status)}):\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
    return res.stdout;
}

/** Builds (first use, ~17 min on 2 cores) or reuses the velero server and its AWS plugin. */
export function buildVelero(env: NodeJS.ProcessEnv): void {
    sh(
        "bash",
        [path.join(ROOT, "e2e", "toolchain.sh"), "velero", "velero-plugin-for-aws"],
        env,
        "e2e/toolchain.sh velero velero-plugin-for-aws",
    );
    for (const f of [VELERO_BIN, AWS_PLUGIN]) if (!fs.existsSync(f)) throw new Error(`${f} missing after e2e/toolchain.sh`);
}

export interface Credentials {
    id: string;
    secret: string;
}

/** Keys of every object in a bucket, listed with the given keys (boto3 from the object store's venv). */
export function listBucket(endpoint: string, bucket: string, prefix: string, credentials: Credentials): string[] {
    const py = [
        "import boto3, json, sys",
        "from botocore.config import Config",
        "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))",
        "keys = []",
        "for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):",
        "    keys += [o['Key'] for o in page.get('Contents', [])]",
        "print(json.dumps(keys))",
    ].join("\n");
    const out = sh(
        path.join(CACHE, "venv", "bin", "python"),
        ["-c", py, endpoint, bucket, prefix],
        { ...process.env, AWS_ACCESS_KEY_ID: credentials.id, AWS_SECRET_ACCESS_KEY: credentials.secret },
        `list s3://${bucket}/${prefix}`,
    );
    return JSON.parse(out) as string[];
}

/** The `[default]` profile of an AWS shared credentials file. */
export function parseCredentials(text: string): Credentials {
    const val = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)`, "m").exec(text)?.[1];
    const id = val("aws_access_key_id");
    const secret = val("aws_secret_access_key");
    if (!id || !secret) throw new Error("the credentials file holds no aws_access_key_id / aws_secret_access_key");
    return { id, secret };
}

/** A private HOME and TMPDIR for every velero process (the server writes credential files under $TMPDIR). */
function baseEnv(tmp: string): NodeJS.ProcessEnv {
    const env = { PATH: process.env.PATH, HOME: path.join(tmp, "home"), TMPDIR: path.join(tmp, "tmpdir") };
    fs.mkdirSync(env.HOME, { recursive: true });
    fs.mkdirSync(env.TMPDIR, { recursive: true });
    return env;
}

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
    const list = JSON.parse(
        sh(VELERO_BIN, ["install", "--crds-only", "--dry-run", "-o", "json"], baseEnv(tmp), "velero install --crds-only"),
    ) as {
        items: KubeObject[];
    };
    const crdDir = path.join(FIXTURES, "charts", "velero-11.3.2", "crds");
    const chartCrds = new Map(
        fs.readdirSync(crdDir).map((f) => {
            const doc = parse(fs.readFileSync(path.join(crdDir, f), "utf8")) as KubeObject;
            return [(doc.metadata as Obj).name as string, doc];
        }),
    );
    const schemas = (o: KubeObject) =>
        JSON.stringify((((o.spec as Obj | undefined)?.versions as Obj[] | undefined) ?? []).map((v) => v.schema));
    const changed: string[] = [];
    for (const crd of list.items) {
        const name = (crd.metadata as Obj).name as string;
        const p = apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name);
        if (!(await k.get(p))) throw new Error(`CRD ${name} was not applied by the chart`);
        if (schemas(chartCrds.get(name) ?? {}) !== schemas(crd)) changed.push(name);
        const metadata = { ...(crd.metadata as Obj) };
        delete metadata.creationTimestamp;
        await k.apply(p, { ...crd, metadata, status: undefined }, "velero-crd-upgrade");
    }
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(ROOT, "e2e", "velero", "snapshot-crds.yaml"), "utf8"))) {
        const crd = doc.toJS() as KubeObject;
        const name = (crd.metadata as Obj).name as string;
        await k.apply(apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name), crd, "e2e-csi-snapshot-standin");
        await established(k, name);
    }
    return changed;
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
        const dep = await k.get(apiPath("apps", "v1", "deployments", namespace, "velero"));
        if (!dep) throw new Error(`Deployment ${namespace}/velero (rendered by the chart) not found`);
        const podSpec = ((dep.spec as Obj).template as Obj).spec as Obj;
        const container = (podSpec.containers as Obj[]).find((c) => c.name === "velero");
        if (!container) throw new Error("the chart's velero container is missing");
        const args = container.args as string[];
        if (args[0] !== "server") throw new Error(`the velero container's args start with ${args[0]}, not server`);
        say(`chart's container: ${(container.command as string[]).join(" ")} ${args.join(" ")}`);

        // The pod's volumes, as the kubelet would provide them: Secrets written out as files, emptyDirs as dirs.
        const mounts = new Map<string, string>();
        for (const vol of podSpec.volumes as Obj[]) {
            const dir = path.join(tmp, "volumes", vol.name as string);
            fs.mkdirSync(dir, { recursive: true });
            const secret = vol.secret as Obj | undefined;
            if (secret) {
                const s = await k.get(apiPath("", "v1", "secrets", namespace, secret.secretName as string));
                if (!s) throw new Error(`Secret ${namespace}/${secret.secretName as string} (the ${vol.name as string} volume) not found`);
                for (const [key, value] of Object.entries((s.data as Record<string, string> | undefined) ?? {})) {
                    fs.writeFileSync(path.join(dir, key), Buffer.from(value, "base64"), { mode: 0o600 });
                }
            }
            for (const m of (container.volumeMounts as Obj[]).filter((vm) => vm.name === vol.name)) mounts.set(m.mountPath as string, dir);
        }
        // What the plugin init container does (`cp /velero-plugin-for-aws /target`): the plugin in the plugins volume.
        const plugins = mounts.get("/plugins");
        if (!plugins) throw new Error("the chart mounts no plugins volume at /plugins");
        fs.copyFileSync(AWS_PLUGIN, path.join(plugins, "velero-plugin-for-aws"));
        fs.chmodSync(path.join(plugins, "velero-plugin-for-aws"), 0o755);
        const local = (v: string) => {
            for (const [mp, dir] of mounts) if (v === mp || v.startsWith(`${mp}/`)) return dir + v.slice(mp.length);
            return v;
        };
        const env = baseEnv(tmp);
        for (const e of (container.env as Obj[] | undefined) ?? []) {
            const field = ((e.valueFrom as Obj | undefined)?.fieldRef as Obj | undefined)?.fieldPath;
            if (field === "metadata.namespace") env[e.name as string] = namespace;
            else if (typeof e.value === "string") env[e.name as string] = local(e.value);
            else throw new Error(`env ${e.name as string}: a source this runner does not provide (${JSON.stringify(e.valueFrom)})`);
        }
        const credFile = env.AWS_SHARED_CREDENTIALS_FILE ?? "";
        if (!credFile || !fs.existsSync(credFile))
            throw new Error(`AWS_SHARED_CREDENTIALS_FILE (${credFile}) missing: the chart's credentials Secret was not mounted`);
        const credentials = parseCredentials(fs.readFileSync(credFile, "utf8"));

        const serverArgs = [
            ...args
                .filter((a) => !a.startsWith("--metrics-address") && !a.startsWith("--profiler-address"))
                .map((a) => {
                    const m = /^(--[a-z-]+=)(\/.*)$/.exec(a);
                    return m ? m[1] + local(m[2]) : a;
                }),
            `--kubeconfig=${kubeconfig}`,
            ...(args.some((a) => a.startsWith("--plugin-dir")) ? [] : [`--plugin-dir=${plugins}`]),
            ...(args.some((a) => a.startsWith("--namespace")) ? [] : [`--namespace=${namespace}`]),
            `--metrics-address=127.0.0.1:${await freePort()}`,
            `--profiler-address=127.0.0.1:${await freePort()}`,
        ];
        const cmdline = `${Object.entries(env)
            .filter(([key]) => key !== "PATH")
            .map(([key, v]) => `${key}=${v ?? ""}`)
            .join(" ")} velero ${serverArgs.join(" ")}`;
        say(`$ ${cmdline}`);
        const logFile = path.join(tmp, "velero-server.log");
        const fd = fs.openSync(logFile, "a");
        const child = spawn(VELERO_BIN, serverArgs, { env, stdio: ["ignore", fd, fd] });
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

/** What a restore must bring back: data, binary data, type, and labels (without the ones Velero adds). */
export const restoredContent = (o: KubeObject | undefined) => ({
    data: o?.data,
    binaryData: o?.binaryData,
    type: o?.type,
    labels: Object.fromEntries(
        Object.entries(((o?.metadata as Obj | undefined)?.labels as Obj | undefined) ?? {}).filter(
            ([key]) => !key.startsWith("velero.io/"),
        ),
    ),
});

/** An application namespace's objects: ConfigMaps, Secrets (one with binary data) and a custom resource (a CNPG Cluster). */
export function applicationObjects(namespace: string): [string, KubeObject][] {
    const random = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)).toString("base64");
    return [
        [
            apiPath("", "v1", "configmaps", namespace),
            {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "shop-settings", labels: { app: "shop" } },
                data: { "settings.yaml": "currency: KES\nretries: 3\n", motd: `written ${new Date().toISOString()}` },
            },
        ],
        [
            apiPath("", "v1", "configmaps", namespace),
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-binary" }, binaryData: { "blob.bin": random } },
        ],
        [
            apiPath("", "v1", "secrets", namespace),
            {
                apiVersion: "v1",
                kind: "Secret",
                type: "Opaque",
                metadata: { name: "shop-db-credentials", labels: { app: "shop" } },
                data: { username: Buffer.from("shop").toString("base64"), password: random },
            },
        ],
        [
            apiPath("", "v1", "secrets", namespace),
            {
                apiVersion: "v1",
                kind: "Secret",
                type: "kubernetes.io/basic-auth",
                metadata: { name: "shop-basic-auth" },
                data: { username: Buffer.from("admin").toString("base64"), password: Buffer.from("s3cr3t-\u00e9").toString("base64") },
            },
        ],
        [
            apiPath("postgresql.cnpg.io", "v1", "clusters", namespace),
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: { name: "shop-postgres", labels: { "app.kubernetes.io/part-of": "shop" } },
                spec: {
                    description: "PostgreSQL for the shop",
                    instances: 1,
                    storage: { size: "1Gi" },
                    bootstrap: { initdb: { database: "shop", owner: "shop" } },
                },
            },
        ],
    ];
}

/** Creates the namespace and its objects under field manager `app-team`; returns each object as the API server stored it. */
export async function createApplication(k: Kube, namespace: string): Promise<Map<string, KubeObject>> {
    await k.apply(
        apiPath("", "v1", "namespaces", undefined, namespace),
        { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
        "app-team",
    );
    const live = new Map<string, KubeObject>();
    for (const [collection, obj] of applicationObjects(namespace)) {
        const p = `${collection}/${(obj.metadata as Obj).name as string}`;
        await k.apply(p, obj, "app-team");
        const o = await k.get(p);
        if (!o) throw new Error(`${p} was not created`);
        live.set(p, o);
    }
    return live;
}

/** Deletes a namespace and waits until it is gone. */
export async function deleteNamespace(k: Kube, namespace: string): Promise<void> {
    const p = apiPath("", "v1", "namespaces", undefined, namespace);
    await k.delete(p);
    await waitFor(`namespace ${namespace} gone`, 180, async () => ((await k.get(p)) ? undefined : true));
}
