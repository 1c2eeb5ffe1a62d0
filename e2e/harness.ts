// Real-engine harness: the toolchain built from Go modules, the local control plane, the local object
// store and the Rook stand-in, and the config overrides every local run needs. The Pulumi project
// workspace the real `pulumi` CLI runs the program in is e2e/workspace.ts.
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { CHARTS } from "../components/charts";

import { apiPath, Kube } from "../kube/client";
import { projectRoot, readStackConfig, stackFile } from "../cli/stackfile";

export const ROOT = projectRoot;
const E2E = path.join(ROOT, "e2e");

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): string {
    const res = spawnSync(cmd, args, { env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
    if (res.status !== 0) throw new Error(`${what} failed (exit ${String(res.status)})`);
    return res.stdout;
}

/** Builds (or reuses) the toolchain and returns an environment with it first on PATH. */
export function toolchainEnv(): NodeJS.ProcessEnv {
    const env = { ...process.env };
    // Stand-ins first, so toolchain.sh's env line includes their directories.
    if (fs.existsSync(path.join(E2E, "standins.sh"))) run("bash", [path.join(E2E, "standins.sh")], env, "e2e/standins.sh");
    const out = run("bash", [path.join(E2E, "toolchain.sh")], env, "e2e/toolchain.sh");
    const line = out.trim().split("\n").pop() ?? "";
    const m = /^export PATH="(.*):\$\{PATH\}"$/.exec(line);
    if (!m) throw new Error(`unexpected toolchain.sh output: ${line}`);
    return { ...env, PATH: `${m[1]}:${env.PATH ?? ""}` };
}

/** Starts (or reuses) the local control plane; returns its kubeconfig path. */
export function startCluster(env: NodeJS.ProcessEnv): string {
    const out = run("bash", [path.join(E2E, "cluster.sh"), "start"], env, "e2e/cluster.sh start");
    const m = /export KUBECONFIG=["']?([^"'\n]+)["']?/.exec(out);
    if (!m) throw new Error(`unexpected cluster.sh output: ${out}`);
    return m[1];
}

export function stopCluster(env: NodeJS.ProcessEnv): void {
    spawnSync("bash", [path.join(E2E, "cluster.sh"), "stop", "--purge"], { env, stdio: "inherit" });
}

/** The local object store (e2e/objectstore.sh): its S3 endpoint and the ceph.conf radosgw-admin needs. */
export interface ObjectStore {
    endpoint: string;
    cephConf: string;
    /** Whether this process started it (false: it was already serving from the same state dir). */
    startedHere: boolean;
}

/** The object store's state dir: BACKUP_PLATFORM_S3_STATE, else beside a private cluster state dir. */
export function objectStoreEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    if (env.BACKUP_PLATFORM_S3_STATE || !env.BACKUP_PLATFORM_STATE) return env;
    return { ...env, BACKUP_PLATFORM_S3_STATE: `${env.BACKUP_PLATFORM_STATE.replace(/\/+$/, "")}-s3` };
}

/** Starts (or reuses, when it already serves from the same state dir) the local Ceph RGW. */
export function startObjectStore(env: NodeJS.ProcessEnv): ObjectStore {
    const script = path.join(E2E, "objectstore.sh");
    const serving = spawnSync("bash", [script, "status"], { env, stdio: "ignore" }).status === 0;
    const out = run("bash", [script, serving ? "env" : "start"], env, `e2e/objectstore.sh ${serving ? "env" : "start"}`);
    const endpoint = /export BACKUP_PLATFORM_S3_ENDPOINT=(\S+)/.exec(out)?.[1];
    const cephConf = /export BACKUP_PLATFORM_CEPH_CONF=(\S+)/.exec(out)?.[1];
    if (!endpoint || !cephConf) throw new Error(`unexpected objectstore.sh output: ${out}`);
    return { endpoint, cephConf, startedHere: !serving };
}

export function stopObjectStore(env: NodeJS.ProcessEnv): void {
    spawnSync("bash", [path.join(E2E, "objectstore.sh"), "stop", "--purge"], { env, stdio: "inherit" });
}

/** The object store's name and namespace in the stack file (the CephObjectStore Rook's cluster would run). */
export const OBJECT_STORE = { name: "ceph-objectstore", namespace: "rook-ceph" };
/** The additionalConfig fields the program sets on its claims; Rook ignores them unless its operator allows them. */
export const OBC_ALLOWED_FIELDS = "maxObjects,maxSize,bucketOwner,bucketPolicy,bucketLifecycle";

/**
 * What installing Rook's operator and a CephObjectStore would leave in the cluster, for the stand-in: the
 * operator's settings ConfigMap (rook-ceph-operator-config, with ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS as a
 * platform team sets it through the operator chart) and the CephObjectStore the stack's StorageClass names.
 */
const ROOK_INSTALLER = "rook-install";

export async function installRook(k: Kube): Promise<void> {
    const ns = OBJECT_STORE.namespace;
    await k.apply(
        `/api/v1/namespaces/${ns}/configmaps/rook-ceph-operator-config`,
        {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "rook-ceph-operator-config", namespace: ns },
            data: { ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS: OBC_ALLOWED_FIELDS },
        },
        ROOK_INSTALLER,
    );
    await k.apply(
        apiPath("ceph.rook.io", "v1", "cephobjectstores", ns, OBJECT_STORE.name),
        {
            apiVersion: "ceph.rook.io/v1",
            kind: "CephObjectStore",
            metadata: { name: OBJECT_STORE.name, namespace: ns },
            spec: { gateway: { port: 80, instances: 1 } },
        },
        ROOK_INSTALLER,
    );
}

/** Starts the Rook stand-in (`e2e/rook/rook.sh watch`) as a child; stop it with stopRook. */
export function startRook(env: NodeJS.ProcessEnv, kubeconfig: string, store: ObjectStore, logFile: string): ChildProcess {
    const log = fs.openSync(logFile, "a");
    const child = spawn("bash", [path.join(E2E, "rook", "rook.sh"), "watch", "--quiet", "--namespace", OBJECT_STORE.namespace], {
        env: {
            ...env,
            KUBECONFIG: kubeconfig,
            BACKUP_PLATFORM_S3_ENDPOINT: store.endpoint,
            BACKUP_PLATFORM_CEPH_CONF: store.cephConf,
            ROOK_OPERATOR_NAMESPACE: OBJECT_STORE.namespace,
        },
        stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    return child;
}

/** SIGTERM to the stand-in's pid (rook.sh execs Python, so the pid is the reconciler's), then wait for it. */
export async function stopRook(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once("exit", r));
    process.kill(child.pid, "SIGTERM");
    const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
}

/** Points the bare-metal stack at the local RGW: the stack file's `backup:baremetal` with this endpoint and region. */
export function objectStoreOverrides(store: ObjectStore, region = "us-east-1"): Record<string, unknown> {
    const base = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Record<string, unknown>;
    return { "backup:baremetal": { ...base, endpoint: store.endpoint, region } };
}

/** Config overrides every local run needs: the test-double charts and no readiness waits (no kubelet). */
/** Upstream fixtures beside the project (`../shared/fixtures`), or `$BACKUP_PLATFORM_FIXTURES`, as `e2e/cluster.sh` reads them. */
export const FIXTURES = process.env.BACKUP_PLATFORM_FIXTURES ?? path.join(ROOT, "..", "shared", "fixtures");

/** The unchanged upstream charts at the versions the program pins, referenced in place (never copied). */
export const CHART_PATHS = {
    velero: path.join(FIXTURES, "charts", `velero-${CHARTS.velero.version}`),
    descheduler: path.join(FIXTURES, "charts", `descheduler-${CHARTS.descheduler.version}`),
} as const;

/**
 * Config overrides every local run needs: the real upstream charts from the fixtures (no chart repository is reachable
 * here) and no readiness waits (no kubelet: pods never run).
 */

export function localOverrides(): Record<string, unknown> {
    for (const dir of Object.values(CHART_PATHS)) {
        if (!fs.existsSync(path.join(dir, "Chart.yaml"))) throw new Error(`chart fixture missing: ${dir} (set BACKUP_PLATFORM_FIXTURES)`);
    }
    return {
        "backup:charts": {
            velero: { path: CHART_PATHS.velero },
            descheduler: { path: CHART_PATHS.descheduler },
        },
        "backup:skipAwait": true,
    };
}

/**
 * Installs the Velero chart's own CRDs (its `crds/` folder) under `manager`, for tests that play Velero without a stack.
 * `e2e/cluster.sh` no longer pre-installs them: the stack applies them from the chart as its own objects.
 */
export async function installVeleroCrds(k: Kube, manager: string): Promise<void> {
    const dir = path.join(CHART_PATHS.velero, "crds");
    const names: string[] = [];
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
        const crd = parse(fs.readFileSync(path.join(dir, file), "utf8")) as { metadata: { name: string } };
        await k.apply(apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, crd.metadata.name), crd, manager);
        names.push(crd.metadata.name);
    }
    for (const name of names) {
        for (let i = 0; ; i++) {
            const crd = await k.get(apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name));
            const conditions = (crd?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
            if (conditions.some((c) => c.type === "Established" && c.status === "True")) break;
            if (i >= 300) throw new Error(`CRD ${name} not Established after 60 s`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
}

/** Waits until a namespace is gone or active (a destroyed one takes a few seconds to terminate). */
export async function settledNamespace(k: Kube, name: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
        const ns = await k.get(`/api/v1/namespaces/${name}`);
        if (!ns || (ns.status as { phase?: string } | undefined)?.phase !== "Terminating") return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`namespace ${name} still terminating after 60 s`);
}

/** A client for the local API server. */
export function kube(kubeconfig: string): Kube {
    return Kube.fromKubeconfig({ kubeconfig });
}
