// Velero backing up and restoring for real (issue 13, section 4): `pulumi up --stack baremetal` with the upstream
// Velero and Descheduler charts against the local API server, the Rook stand-in turning the program's object users and
// bucket claims into RGW users and buckets on a real Ceph RGW (e2e/objectstore.sh), then the real `velero server`
// (built from Go modules by e2e/toolchain.sh) run outside a pod with the Deployment the chart rendered: its args,
// its env, its volumes (the credentials Secret written to a file as the kubelet would mount it), and the
// BackupStorageLocation and Schedules the chart created. No kubelet: no volume data is backed up (there are no
// pods); the node agent is off, as in the program's default.
import * as assert from "assert";
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { apiPath, type Kube, type KubeObject } from "../../scripts/kube";
import { readStackConfig, stackFile } from "../../scripts/stackfile";
import { parse, parseAllDocuments } from "yaml";
import { kube, ROOT, Workspace } from "../harness";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
const FIXTURES = process.env.BACKUP_PLATFORM_FIXTURES ?? path.join(ROOT, "..", "shared", "fixtures");
const CACHE =
    process.env.BACKUP_PLATFORM_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "k8s-backup-platform");
const VERSIONS = Object.fromEntries(
    fs
        .readFileSync(path.join(ROOT, "e2e", "versions.env"), "utf8")
        .split("\n")
        .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], m[2]]),
);
const VELERO_BIN = path.join(CACHE, "bin", `velero-${VERSIONS.VELERO_VERSION}`, "velero");
const AWS_PLUGIN_DIR = path.join(CACHE, "bin", `velero-plugin-for-aws-${VERSIONS.VELERO_PLUGIN_FOR_AWS_VERSION}`);
/**
 * Velero's bucket prefix: `backup:velero.prefix`, the stack's default (none) unless VELERO_E2E_PREFIX is set. With a
 * prefix the program grants ListBucket only under it, and RGW answers Velero's HeadObject on a not-yet-written
 * `velero-backup.json` with 403 instead of 404: every backup fails (e2e/NOTES.md, "Velero for real").
 */
const PREFIX = process.env.VELERO_E2E_PREFIX ?? "";
/** Where Velero's folders start in the bucket. */
const ROOT_DIR = PREFIX === "" ? "" : `${PREFIX}/`;
/** The top-level folders Velero writes (and nothing else). */
const VELERO_DIRS = ["backups", "restores", "kopia", "metadata"];
const APP_NS = "velero-e2e-shop";
const NS = "velero";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => process.stdout.write(`      [velero-e2e] ${s}\n`);

async function waitFor<T>(what: string, seconds: number, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    let last: T | undefined;
    while (Date.now() < deadline) {
        last = await fn();
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
function portFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        srv.listen(port, () => srv.close(() => resolve(true)));
    });
}

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): string {
    const res = spawnSync(cmd, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0)
        throw new Error(`${what} failed (exit ${String(res.status)}):\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
    return res.stdout;
}

/** Keys of every object in a bucket, listed with the given keys (boto3 from the object store's venv). */
function listBucket(endpoint: string, bucket: string, prefix: string, credentials: { id: string; secret: string }): string[] {
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
function parseCredentials(text: string): { id: string; secret: string } {
    const val = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)`, "m").exec(text)?.[1];
    const id = val("aws_access_key_id");
    const secret = val("aws_secret_access_key");
    assert.ok(id && secret, "the credentials file holds aws_access_key_id and aws_secret_access_key");
    return { id, secret };
}

/** What a restore must bring back: data, binary data, type, and labels (without the ones Velero adds). */
const data = (o: KubeObject | undefined) => ({
    data: o?.data,
    binaryData: o?.binaryData,
    type: o?.type,
    labels: Object.fromEntries(
        Object.entries(((o?.metadata as Obj | undefined)?.labels as Obj | undefined) ?? {}).filter(
            ([key]) => !key.startsWith("velero.io/"),
        ),
    ),
});

/** The application namespace's objects: ConfigMaps, Secrets (one with binary data) and a custom resource (a CNPG Cluster). */
function appObjects(): [string, KubeObject][] {
    const random = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)).toString("base64");
    return [
        [
            apiPath("", "v1", "configmaps", APP_NS),
            {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "shop-settings", labels: { app: "shop" } },
                data: { "settings.yaml": "currency: KES\nretries: 3\n", motd: `written ${new Date().toISOString()}` },
            },
        ],
        [
            apiPath("", "v1", "configmaps", APP_NS),
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-binary" }, binaryData: { "blob.bin": random } },
        ],
        [
            apiPath("", "v1", "secrets", APP_NS),
            {
                apiVersion: "v1",
                kind: "Secret",
                type: "Opaque",
                metadata: { name: "shop-db-credentials", labels: { app: "shop" } },
                data: { username: Buffer.from("shop").toString("base64"), password: random },
            },
        ],
        [
            apiPath("", "v1", "secrets", APP_NS),
            {
                apiVersion: "v1",
                kind: "Secret",
                type: "kubernetes.io/basic-auth",
                metadata: { name: "shop-basic-auth" },
                data: { username: Buffer.from("admin").toString("base64"), password: Buffer.from("s3cr3t-\u00e9").toString("base64") },
            },
        ],
        [
            apiPath("postgresql.cnpg.io", "v1", "clusters", APP_NS),
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

describe("Velero backs up and restores for real (real chart, real velero server, Ceph RGW)", function () {
    this.timeout(30 * 60_000);
    let ws: Workspace;
    let k: Kube;
    let tmp: string;
    let endpoint = "";
    let velero: ChildProcess | undefined;
    let veleroEnv: NodeJS.ProcessEnv = {};
    let credentials: { id: string; secret: string };
    let bucket = "";
    let bslPrefix = "";
    const ran: string[] = [];
    let failures = 0;

    afterEach(function () {
        if (this.currentTest?.state === "failed") failures++;
    });

    const veleroCli = (args: string[], allowFailure = false): string => {
        const full = [...args, "--namespace", NS, "--kubeconfig", shared.kubeconfig];
        ran.push(`velero ${full.join(" ")}`);
        log(`$ velero ${args.join(" ")}`);
        // Bounded: `describe --details` of a failed backup waits on download requests that never complete.
        const res = spawnSync(VELERO_BIN, full, { env: veleroEnv, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
        if (res.status !== 0 && !allowFailure)
            throw new Error(`velero ${args.join(" ")} failed (exit ${String(res.status)}):\n${res.stdout}\n${res.stderr}`);
        return res.stdout + res.stderr;
    };

    /** A private HOME and TMPDIR for every velero process (the server writes credential files under $TMPDIR). */
    const veleroEnvBase = (): NodeJS.ProcessEnv => {
        const env = { PATH: process.env.PATH, HOME: path.join(tmp, "home"), TMPDIR: path.join(tmp, "tmpdir") };
        fs.mkdirSync(env.HOME, { recursive: true });
        fs.mkdirSync(env.TMPDIR, { recursive: true });
        return env;
    };

    const veleroObj = (plural: string, name: string) => k.get(apiPath("velero.io", "v1", plural, NS, name));

    /** Waits for a Backup or Restore to leave its running phases; returns it. */
    const finished = (plural: string, name: string, seconds = 300) =>
        waitFor(`${plural} ${name} to finish`, seconds, async () => {
            if (velero?.exitCode !== null) throw new Error(`velero server exited ${String(velero?.exitCode)}`);
            const o = await veleroObj(plural, name);
            const phase = (o?.status as Obj | undefined)?.phase as string | undefined;
            return phase &&
                ![
                    "New",
                    "Queued",
                    "ReadyToStart",
                    "InProgress",
                    "WaitingForPluginOperations",
                    "Finalizing",
                    "FinalizingPartiallyFailed",
                ].includes(phase)
                ? o
                : undefined;
        });

    before(function () {
        this.timeout(20 * 60_000);
        // Optional toolchain components (not in DEFAULT_COMPONENTS): built on first use (~17 min cold), then cached.
        sh(
            "bash",
            [path.join(ROOT, "e2e", "toolchain.sh"), "velero", "velero-plugin-for-aws"],
            shared.env,
            "e2e/toolchain.sh velero velero-plugin-for-aws",
        );
        assert.ok(fs.existsSync(VELERO_BIN), `${VELERO_BIN} missing after e2e/toolchain.sh`);
        assert.ok(fs.existsSync(path.join(AWS_PLUGIN_DIR, "velero-plugin-for-aws")), `velero-plugin-for-aws missing in ${AWS_PLUGIN_DIR}`);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "velero-e2e-"));
        k = kube(shared.kubeconfig);

        // The suite's object store and Rook stand-in (e2e/test/hooks.ts) serve the program's users and claims.
        endpoint = shared.store.endpoint;
        assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
        const bm = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Obj;
        let t0 = Date.now();

        // pulumi up --stack baremetal with the upstream charts, pointed at the local RGW.
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init({
            "backup:charts": {
                velero: { path: path.join(FIXTURES, "charts", "velero-11.3.2") },
                descheduler: { path: path.join(FIXTURES, "charts", "descheduler-0.34.0") },
            },
            "backup:skipAwait": true,
            "backup:baremetal": { ...bm, endpoint },
            ...(PREFIX === "" ? {} : { "backup:velero": { prefix: PREFIX } }),
        });
        t0 = Date.now();
        ws.up();
        log(`pulumi up --stack baremetal (real charts) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

    after(async function () {
        this.timeout(5 * 60_000);
        for (const [name, child] of [["velero server", velero]] as const) {
            if (child?.pid && child.exitCode === null) {
                log(`stopping ${name} (pid ${child.pid})`);
                const exited = new Promise((r) => child.once("exit", r));
                child.kill("SIGTERM");
                await Promise.race([exited, sleep(20_000)]);
                if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
            }
        }
        const serverLog = tmp ? path.join(tmp, "velero-server.log") : "";
        if (this.currentTest?.state === "failed" || failures > 0) {
            if (serverLog && fs.existsSync(serverLog)) {
                const errors = fs
                    .readFileSync(serverLog, "utf8")
                    .split("\n")
                    .filter((l) => /level=(error|warning)/.test(l));
                log(`velero server errors and warnings (last 40 of ${errors.length}):\n${errors.slice(-40).join("\n")}`);
            }
        }
        if (ran.length) log(`what ran:\n${ran.map((r) => `        ${r}`).join("\n")}`);
        k?.close();
        if (process.env.E2E_KEEP !== "1") {
            ws?.remove();
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it("the Rook stand-in binds the program's Velero bucket claim", async () => {
        const t0 = Date.now();
        const claim = await waitFor("ObjectBucketClaim velero-backups Bound", 180, async () => {
            const o = await k.get(apiPath("objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "velero-backups"));
            return (o?.status as Obj | undefined)?.phase === "Bound" ? o : undefined;
        });
        log(`claim velero-backups Bound ${((Date.now() - t0) / 1000).toFixed(1)} s after up`);
        for (const u of ["backup-velero", "backup-owner"]) {
            await waitFor(`CephObjectStoreUser ${u} Ready`, 120, async () => {
                const o = await k.get(apiPath("ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", u));
                return (o?.status as Obj | undefined)?.phase === "Ready" ? o : undefined;
            });
        }
        assert.strictEqual((claim.spec as Obj).bucketName, "velero-backups");
    });

    it("upgrades the chart's Velero CRDs (appVersion 1.17.1) to the server's own (1.18.3), as Velero's upgrade guide does", async () => {
        // Velero 1.18 added Backup phases (Queued, ReadyToStart) the chart's 1.17 CRDs reject: with the chart's CRDs
        // the 1.18.3 server loops on "status.phase: Unsupported value: \"Queued\"" and no backup ever starts (seen).
        // A pod would run the chart's image (1.17.1) against the chart's CRDs; here the only served server is 1.18.3,
        // so its CRDs replace the chart's (`velero install --crds-only --dry-run -o json`, applied server-side).
        const list = JSON.parse(
            sh(VELERO_BIN, ["install", "--crds-only", "--dry-run", "-o", "json"], veleroEnvBase(), "velero install --crds-only"),
        ) as {
            items: KubeObject[];
        };
        ran.push("velero install --crds-only --dry-run -o json | server-side apply (field manager velero-crd-upgrade)");
        const changedSchemas: string[] = [];
        const crdDir = path.join(FIXTURES, "charts", "velero-11.3.2", "crds");
        const chartCrds = new Map(
            fs.readdirSync(crdDir).map((f) => {
                const doc = parse(fs.readFileSync(path.join(crdDir, f), "utf8")) as KubeObject;
                return [(doc.metadata as Obj).name as string, doc];
            }),
        );
        for (const crd of list.items) {
            const name = (crd.metadata as Obj).name as string;
            const p = apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name);
            assert.ok(await k.get(p), `CRD ${name} was applied by the chart`);
            const schemas = (o: KubeObject) => JSON.stringify(((o.spec as Obj).versions as Obj[]).map((v) => v.schema));
            if (schemas(chartCrds.get(name) ?? {}) !== schemas(crd)) changedSchemas.push(name);
            const metadata = { ...(crd.metadata as Obj) };
            delete metadata.creationTimestamp;
            await k.apply(p, { ...crd, metadata, status: undefined }, "velero-crd-upgrade");
        }
        log(`CRDs whose schema 1.18.3 changes: ${changedSchemas.join(", ")}`);

        // A CSI-capable cluster's snapshot kinds (stand-ins, e2e/velero/snapshot-crds.yaml): with EnableCSI and
        // without them every backup ends PartiallyFailed.
        for (const doc of parseAllDocuments(fs.readFileSync(path.join(ROOT, "e2e", "velero", "snapshot-crds.yaml"), "utf8"))) {
            const crd = doc.toJS() as KubeObject;
            const name = (crd.metadata as Obj).name as string;
            const p = apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name);
            await k.apply(p, crd, "e2e-csi-snapshot-standin");
            await waitFor(`CRD ${name} Established`, 60, async () => {
                const conds = (((await k.get(p))?.status as Obj | undefined)?.conditions as Obj[] | undefined) ?? [];
                return conds.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
            });
        }
        assert.ok(changedSchemas.includes("backups.velero.io"), "the Backup CRD differs (the reason for the upgrade)");
    });

    it("runs velero server with the Deployment the chart rendered; the BackupStorageLocation becomes Available", async () => {
        assert.ok(
            await portFree(8080),
            "port 8080 is taken (controller-runtime's metrics server binds :8080): run one Velero server at a time",
        );
        const dep = await k.get(apiPath("apps", "v1", "deployments", NS, "velero"));
        assert.ok(dep, "Deployment velero/velero (rendered by the chart)");
        const podSpec = ((dep.spec as Obj).template as Obj).spec as Obj;
        const container = (podSpec.containers as Obj[]).find((c) => c.name === "velero");
        assert.ok(container, "the chart's velero container");
        const args = container.args as string[];
        assert.strictEqual(args[0], "server");
        log(`chart's container: ${(container.command as string[]).join(" ")} ${args.join(" ")}`);

        // The pod's volumes, as the kubelet would provide them: Secrets written out as files, emptyDirs as dirs.
        const mounts = new Map<string, string>();
        for (const vol of podSpec.volumes as Obj[]) {
            const dir = path.join(tmp, "volumes", vol.name as string);
            fs.mkdirSync(dir, { recursive: true });
            const secret = vol.secret as Obj | undefined;
            if (secret) {
                const s = await k.get(apiPath("", "v1", "secrets", NS, secret.secretName as string));
                assert.ok(s, `Secret ${NS}/${secret.secretName as string} (the ${vol.name as string} volume)`);
                for (const [key, value] of Object.entries((s.data as Record<string, string> | undefined) ?? {})) {
                    fs.writeFileSync(path.join(dir, key), Buffer.from(value, "base64"), { mode: 0o600 });
                }
            }
            for (const m of (container.volumeMounts as Obj[]).filter((vm) => vm.name === vol.name)) mounts.set(m.mountPath as string, dir);
        }
        // What the plugin init container does (`cp /velero-plugin-for-aws /target`): the plugin in the plugins volume.
        const pluginMount = [...mounts.keys()].find((m) => m === "/plugins");
        assert.ok(pluginMount, "the chart mounts a plugins volume at /plugins");
        fs.copyFileSync(
            path.join(AWS_PLUGIN_DIR, "velero-plugin-for-aws"),
            path.join(mounts.get(pluginMount) ?? "", "velero-plugin-for-aws"),
        );
        fs.chmodSync(path.join(mounts.get(pluginMount) ?? "", "velero-plugin-for-aws"), 0o755);
        const local = (v: string) => {
            for (const [mp, dir] of mounts) if (v === mp || v.startsWith(`${mp}/`)) return dir + v.slice(mp.length);
            return v;
        };
        const env = veleroEnvBase();
        for (const e of (container.env as Obj[] | undefined) ?? []) {
            const field = ((e.valueFrom as Obj | undefined)?.fieldRef as Obj | undefined)?.fieldPath;
            if (field === "metadata.namespace") env[e.name as string] = NS;
            else if (typeof e.value === "string") env[e.name as string] = local(e.value);
            else throw new Error(`env ${e.name as string}: a source this test does not provide (${JSON.stringify(e.valueFrom)})`);
        }
        const credFile = env.AWS_SHARED_CREDENTIALS_FILE ?? "";
        assert.ok(
            credFile && fs.existsSync(credFile),
            `AWS_SHARED_CREDENTIALS_FILE (${credFile}) exists, from Secret velero/velero-s3-credentials`,
        );
        credentials = parseCredentials(fs.readFileSync(credFile, "utf8"));
        veleroEnv = env;

        // The chart's args, with what only a pod has replaced: the in-cluster config by --kubeconfig, paths by
        // the local volume dirs, listen addresses by free loopback ports.
        const metricsPort = await freePort();
        const profilerPort = await freePort();
        const serverArgs = [
            ...args
                .filter((a) => !a.startsWith("--metrics-address") && !a.startsWith("--profiler-address"))
                .map((a) => {
                    const m = /^(--[a-z-]+=)(\/.*)$/.exec(a);
                    return m ? m[1] + local(m[2]) : a;
                }),
            `--kubeconfig=${shared.kubeconfig}`,
            ...(args.some((a) => a.startsWith("--plugin-dir")) ? [] : [`--plugin-dir=${mounts.get("/plugins") ?? ""}`]),
            ...(args.some((a) => a.startsWith("--namespace")) ? [] : [`--namespace=${NS}`]),
            `--metrics-address=127.0.0.1:${metricsPort}`,
            `--profiler-address=127.0.0.1:${profilerPort}`,
        ];
        const cmdline = `${Object.entries(env)
            .filter(([key]) => key !== "PATH")
            .map(([key, v]) => `${key}=${v ?? ""}`)
            .join(" ")} velero ${serverArgs.join(" ")}`;
        ran.push(cmdline);
        log(`$ ${cmdline}`);
        const serverLog = path.join(tmp, "velero-server.log");
        const fd = fs.openSync(serverLog, "a");
        velero = spawn(VELERO_BIN, serverArgs, { env, stdio: ["ignore", fd, fd] });
        log(`velero server pid ${String(velero.pid)}, log ${serverLog}`);
        const t0 = Date.now();
        try {
            const bsl = await waitFor("BackupStorageLocation default Available", 180, async () => {
                if (velero?.exitCode !== null) {
                    throw new Error(
                        `velero server exited ${String(velero?.exitCode)}:\n${fs.readFileSync(serverLog, "utf8").split("\n").slice(-15).join("\n")}`,
                    );
                }
                const o = await veleroObj("backupstoragelocations", "default");
                return (o?.status as Obj | undefined)?.phase === "Available" ? o : undefined;
            });
            log(`BackupStorageLocation default Available ${((Date.now() - t0) / 1000).toFixed(1)} s after the server started`);
            const os3 = (bsl.spec as Obj).objectStorage as Obj;
            bucket = os3.bucket as string;
            bslPrefix = (os3.prefix as string | undefined) ?? "";
            assert.strictEqual(bslPrefix, PREFIX, "the chart's location carries the configured prefix (none by default)");
            assert.strictEqual(((bsl.spec as Obj).config as Obj).s3Url, endpoint);
            // The location the chart created, not one of ours: its field manager is the stack's.
            const managers = ((bsl.metadata as Obj).managedFields as { manager: string }[]).map((m) => m.manager);
            assert.ok(managers.includes("backup-platform-baremetal"), `BSL managers: ${managers.join(", ")}`);
        } catch (err) {
            process.stdout.write(fs.readFileSync(serverLog, "utf8").split("\n").slice(-40).join("\n"));
            throw err;
        }
    });

    let backupObjects: Map<string, KubeObject>;

    it("backs up an application namespace (ConfigMaps, Secrets, a CNPG Cluster); its files are in the bucket under the prefix", async () => {
        await k.apply(
            apiPath("", "v1", "namespaces", undefined, APP_NS),
            { apiVersion: "v1", kind: "Namespace", metadata: { name: APP_NS } },
            "app-team",
        );
        backupObjects = new Map();
        for (const [collection, obj] of appObjects()) {
            const name = (obj.metadata as Obj).name as string;
            await k.apply(`${collection}/${name}`, obj, "app-team");
            const live = await k.get(`${collection}/${name}`);
            assert.ok(live);
            backupObjects.set(`${collection}/${name}`, live);
        }
        const t0 = Date.now();
        veleroCli(["backup", "create", "shop-1", "--include-namespaces", APP_NS]);
        const backup = await finished("backups", "shop-1");
        const status = backup.status as Obj;
        log(`backup shop-1: ${String(status.phase)} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${JSON.stringify(status.progress)}`);
        if (status.phase !== "Completed")
            assert.fail(`${String(status.phase)}, not Completed:\n${veleroCli(["backup", "describe", "shop-1", "--details"], true)}`);
        assert.strictEqual((status.progress as Obj).itemsBackedUp, (status.progress as Obj).totalItems);

        const keys = listBucket(endpoint, bucket, ROOT_DIR, credentials);
        log(`s3://${bucket}/${ROOT_DIR} as the velero user:\n${keys.map((key) => `        ${key}`).join("\n")}`);
        const dir = `${ROOT_DIR}backups/shop-1/`;
        for (const f of ["shop-1.tar.gz", "velero-backup.json", "shop-1-logs.gz", "shop-1-resource-list.json.gz"]) {
            assert.ok(keys.includes(dir + f), `${dir}${f} is in the bucket`);
        }
        // Everything in the bucket (the velero user owns no other prefix here) is under the prefix, in Velero's folders.
        const everything = listBucket(endpoint, bucket, "", credentials);
        const stray = everything.filter(
            (key) => !key.startsWith(ROOT_DIR) || !VELERO_DIRS.includes(key.slice(ROOT_DIR.length).split("/")[0]),
        );
        assert.deepStrictEqual(stray, [], `every object is under "${ROOT_DIR}" in one of Velero's folders (${VELERO_DIRS.join(", ")})`);
    });

    it("restores the deleted namespace: every object comes back with its data", async () => {
        await k.delete(apiPath("", "v1", "namespaces", undefined, APP_NS));
        const t0 = Date.now();
        await waitFor(`namespace ${APP_NS} gone`, 180, async () =>
            (await k.get(apiPath("", "v1", "namespaces", undefined, APP_NS))) ? undefined : true,
        );
        log(`namespace ${APP_NS} deleted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        for (const p of backupObjects.keys()) assert.strictEqual(await k.get(p), undefined, `${p} is gone`);

        const t1 = Date.now();
        veleroCli(["restore", "create", "shop-1-restore", "--from-backup", "shop-1"]);
        const restore = await finished("restores", "shop-1-restore");
        const status = restore.status as Obj;
        log(
            `restore shop-1-restore: ${String(status.phase)} in ${((Date.now() - t1) / 1000).toFixed(1)} s, ${JSON.stringify(status.progress)}`,
        );
        if (status.phase !== "Completed")
            assert.fail(
                `${String(status.phase)}, not Completed:\n${veleroCli(["restore", "describe", "shop-1-restore", "--details"], true)}`,
            );
        for (const [p, before] of backupObjects) {
            const after = await k.get(p);
            assert.ok(after, `${p} restored`);
            assert.notStrictEqual((after.metadata as Obj).uid, (before.metadata as Obj).uid, `${p} is a new object`);
            assert.deepStrictEqual(data(after), data(before), `${p}: data and labels`);
            if (before.kind === "Cluster") assert.deepStrictEqual(after.spec, before.spec, `${p}: spec`);
            assert.strictEqual(
                ((after.metadata as Obj).labels as Obj)["velero.io/restore-name"],
                "shop-1-restore",
                `${p}: labelled by the restore`,
            );
        }
        log(
            `restored ${backupObjects.size} objects with equal data: ${[...backupObjects.keys()].map((p) => p.split("/").slice(-2).join("/")).join(", ")}`,
        );
    });

    it("a backup from each Schedule the chart created completes", async () => {
        const schedules = (await k.list(apiPath("velero.io", "v1", "schedules", NS))).map((s) => (s.metadata as Obj).name as string).sort();
        log(`schedules: ${schedules.join(", ")}`);
        // The program's HA profile: one Schedule per `backup:velero.schedules` entry (default daily-namespaces, weekly-full).
        assert.deepStrictEqual(
            schedules.map((s) => s.replace(/^velero-/, "")),
            ["daily-namespaces", "weekly-full"],
        );
        for (const schedule of schedules) {
            const name = `${schedule}-manual`;
            const t0 = Date.now();
            veleroCli(["backup", "create", name, "--from-schedule", schedule]);
            const backup = await finished("backups", name);
            const status = backup.status as Obj;
            log(
                `backup ${name} (from schedule ${schedule}): ${String(status.phase)} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${JSON.stringify(status.progress)}`,
            );
            if (status.phase !== "Completed")
                assert.fail(`${String(status.phase)}, not Completed:\n${veleroCli(["backup", "describe", name, "--details"], true)}`);
            const spec = backup.spec as Obj;
            const template = (((await veleroObj("schedules", schedule)) as Obj).spec as Obj).template as Obj;
            // No namespaces in the template means all of them; Velero writes that as "*".
            assert.deepStrictEqual(
                spec.includedNamespaces ?? ["*"],
                template.includedNamespaces ?? ["*"],
                `${name}: the schedule's namespaces`,
            );
            assert.strictEqual(spec.includeClusterResources, template.includeClusterResources, `${name}: the schedule's cluster scope`);
            assert.strictEqual(((backup.metadata as Obj).labels as Obj)["velero.io/schedule-name"], schedule);
            const keys = listBucket(endpoint, bucket, `${ROOT_DIR}backups/${name}/`, credentials);
            assert.ok(keys.includes(`${ROOT_DIR}backups/${name}/${name}.tar.gz`), `${name}: its tarball is in the bucket`);
        }
    });
});
