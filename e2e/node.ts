// The real node (issue 16) as e2e tests use it: e2e/node.sh started with the machine's ports a test's pods need
// forwarded (the object store), images built with e2e/images/image.sh and imported into its containerd, and the
// node stopped by the test that started it. Every suite that runs pods starts its own node and stops it in `after`,
// so the others run against the API server alone as before.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiPath, type Kube, type KubeObject } from "../kube/client";
import { ROOT } from "./harness";
import { waitFor } from "./velero/tools";

type Obj = Record<string, unknown>;

export const NODE_NAME = "e2e-node";
/** The machine's 127.0.0.1 as pods see it (node.sh HOST_ALIAS_IP): forwarded ports only. */
export const HOST_FROM_PODS = "10.87.0.1";

const NODE_SH = path.join(ROOT, "e2e", "node.sh");
const IMAGE_SH = path.join(ROOT, "e2e", "images", "image.sh");
const UPSTREAM_SH = path.join(ROOT, "e2e", "images", "upstream.sh");
const log = (s: string) => process.stdout.write(`      [node] ${s}\n`);

/** Runs a bash script of e2e/ and returns its stdout; throws with the end of its stderr on failure. */
export function script(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 40 * 60_000): string {
    const t0 = Date.now();
    const res = spawnSync("bash", args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
    if (res.status !== 0) throw new Error(`${args.join(" ")} failed (${String(res.status)}):\n${res.stderr}`.slice(-8000));
    log(`${path.relative(ROOT, args[0])} ${args.slice(1, 3).join(" ")}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return res.stdout;
}

export interface RealNode {
    /** The environment node.sh ran with (BACKUP_PLATFORM_STATE, PATH). */
    readonly env: NodeJS.ProcessEnv;
    /** containerd's socket, for image imports. */
    readonly containerd: string;
    /** A scratch dir for image archives, removed by stopNode. */
    readonly tmp: string;
}

/**
 * Installs the node's packages (first use), starts it with `forward` (ports of the machine's 127.0.0.1 that pods
 * reach at HOST_FROM_PODS) and returns it once Ready. The kubelet and kube-scheduler are built on first use.
 */
export function startNode(env: NodeJS.ProcessEnv, forward: number[] = []): RealNode {
    const nodeEnv = { ...env, BACKUP_PLATFORM_NODE_FORWARD: forward.join(" ") };
    script([NODE_SH, "deps"], nodeEnv);
    script([NODE_SH, "start"], nodeEnv);
    const containerd = /CONTAINERD_ADDRESS=(\S+)/.exec(script([NODE_SH, "env"], nodeEnv))?.[1];
    assert.ok(containerd, "node.sh env printed no CONTAINERD_ADDRESS");
    return { env: nodeEnv, containerd, tmp: fs.mkdtempSync(path.join(os.tmpdir(), "node-images-")) };
}

/** Stops the node (every process it started, by pid) and deletes its state, unless E2E_KEEP=1. */
export function stopNode(node: RealNode | undefined): void {
    if (!node) return;
    fs.rmSync(node.tmp, { recursive: true, force: true });
    if (process.env.E2E_KEEP !== "1") script([NODE_SH, "stop", "--purge"], node.env);
}

/** Runs a command inside the node's network namespace (where pod IPs are reachable). */
export function inNode(node: RealNode, command: string[]): string {
    return script([NODE_SH, "run", ...command], node.env);
}

/**
 * What an image is made of: a Go main package of e2e/images, a root filesystem, or files (e2e/images/image.sh), or a
 * stand-in for an upstream image the program pins (e2e/images/upstream.sh: `rclone`, `node`, `kubectl`).
 */
export type ImageSource = { go: string } | { rootfs: string } | { files: true } | { upstream: "rclone" | "node" | "kubectl" };

/**
 * Builds the image `ref` with e2e/images/image.sh (`options` as that command takes them, e.g. `--file SRC:/DEST`,
 * `--user 65532`) and imports it into the node.
 */
export function loadImage(node: RealNode, ref: string, source: ImageSource, options: string[] = []): void {
    const tar = path.join(node.tmp, `${ref.replace(/[^A-Za-z0-9.-]+/g, "_")}.tar`);
    if ("upstream" in source) script([UPSTREAM_SH, source.upstream, ref, tar, ...options], node.env);
    else {
        const head = "go" in source ? ["go", source.go] : "rootfs" in source ? ["rootfs", source.rootfs] : ["files"];
        script([IMAGE_SH, ...head, ref, tar, ...options], node.env);
    }
    script([IMAGE_SH, "import", node.containerd, tar], node.env);
}

/** Builds (or copies from the cache) a Debian image with e2e/images/debian.sh (`--apt`, `--pip`, `--user` ...). */
export function loadDebianImage(node: RealNode, ref: string, options: string[]): void {
    const tar = path.join(node.tmp, `${ref.replace(/[^A-Za-z0-9.-]+/g, "_")}.tar`);
    script([path.join(ROOT, "e2e", "images", "debian.sh"), ref, tar, ...options], node.env);
    script([IMAGE_SH, "import", node.containerd, tar], node.env);
}

/** What the kernel says of a container's main process (its /proc entries, read on the machine: same pid namespace). */
export interface ContainerProcess {
    readonly pid: number;
    /** Real, effective, saved and filesystem uid (and gid). */
    readonly uid: number[];
    readonly gid: number[];
    /** Effective capabilities, as the hex mask of /proc/PID/status. */
    readonly capEff: string;
    readonly noNewPrivs: boolean;
    /** 0 off, 1 strict, 2 filter (a seccomp profile). */
    readonly seccomp: number;
    /** The container's root filesystem is mounted read-only. */
    readonly rootReadOnly: boolean;
    /** Peak resident memory so far (VmHWM), KiB. */
    readonly peakRssKiB: number;
}

/** The running process of `containerID` (a pod status' `containerd://ID`), found in containerd's task list. */
export function containerProcess(node: RealNode, containerID: string): ContainerProcess {
    const id = containerID.replace(/^containerd:\/\//, "");
    const res = spawnSync("ctr", ["--address", node.containerd, "-n", "k8s.io", "tasks", "ls"], { encoding: "utf8" });
    const pid = Number(
        res.stdout
            .split("\n")
            .find((l) => l.startsWith(`${id} `))
            ?.split(/\s+/)[1],
    );
    assert.ok(pid > 0, `no running task ${id} in containerd:\n${res.stdout}${res.stderr}`);
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1].trim() ?? "";
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...; the last mount at "/" is the one in effect.
    const rootMount = fs
        .readFileSync(`/proc/${pid}/mountinfo`, "utf8")
        .split("\n")
        .map((l) => l.split(" "))
        .filter((f) => f[4] === "/")
        .pop();
    return {
        pid,
        uid: field("Uid").split(/\s+/).map(Number),
        gid: field("Gid").split(/\s+/).map(Number),
        capEff: field("CapEff"),
        noNewPrivs: field("NoNewPrivs") === "1",
        seccomp: Number(field("Seccomp")),
        rootReadOnly: (rootMount?.[5] ?? "").split(",").includes("ro"),
        peakRssKiB: parseInt(field("VmHWM"), 10),
    };
}

/**
 * What a pod's container wrote (stdout and stderr, in order), from the kubelet's log files under the node's state dir
 * (the API server cannot reach the kubelet's port in the node's network namespace, so `kubectl logs` does not work).
 */
export function containerLog(node: RealNode, pod: KubeObject, container: string): string {
    const meta = pod.metadata as { namespace: string; name: string; uid: string };
    const state = node.env.BACKUP_PLATFORM_STATE ?? "/tmp/k8s-backup-platform-cluster";
    const dir = path.join(state, "node", "pod-logs", `${meta.namespace}_${meta.name}_${meta.uid}`, container);
    if (!fs.existsSync(dir)) return "";
    // CRI log lines: <time> <stream> <F|P> <text>; P marks a line split by the runtime.
    return fs
        .readdirSync(dir)
        .filter((f) => /^\d+\.log$/.test(f))
        .sort((a, b) => parseInt(a) - parseInt(b))
        .flatMap((f) => fs.readFileSync(path.join(dir, f), "utf8").split("\n"))
        .map((l) => /^\S+ (?:stdout|stderr) ([FP]) (.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => (m[1] === "F" ? `${m[2]}\n` : m[2]))
        .join("");
}

/**
 * The OCI runtime spec containerd handed runc for a pod's container (`ctr containers info`): what really ran (user,
 * read-only root, capabilities, mounts), whatever the API objects say. `containerID` as in the pod's status.
 */
export function containerSpec(node: RealNode, containerID: string): Obj {
    const id = containerID.replace(/^containerd:\/\//, "");
    const res = spawnSync("ctr", ["--address", node.containerd, "-n", "k8s.io", "containers", "info", id], {
        env: node.env,
        encoding: "utf8",
    });
    if (res.status !== 0) throw new Error(`ctr containers info ${id} failed: ${res.stderr}`);
    return (JSON.parse(res.stdout) as { Spec: Obj }).Spec;
}

/** Waits until `path` (a Pod) is Ready, and returns it. */
export async function podReady(k: Kube, podPath: string, seconds = 120): Promise<KubeObject> {
    return waitFor(`pod ${podPath} Ready`, seconds, async () => {
        const p = await k.get(podPath);
        const conds = ((p?.status as Obj | undefined)?.conditions as { type: string; status: string }[] | undefined) ?? [];
        return conds.some((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
    });
}

/** The pods of `namespace` whose labels match `selector` (a label selector string). */
export async function podsOf(k: Kube, namespace: string, selector: string): Promise<KubeObject[]> {
    const list = await k.get(`${apiPath("", "v1", "pods", namespace)}?labelSelector=${encodeURIComponent(selector)}`);
    return ((list?.items as KubeObject[] | undefined) ?? []).filter(Boolean);
}

/** The statuses of a pod's init containers and containers. */
function containerStatuses(pod: KubeObject): Obj[] {
    const status = pod.status as Obj | undefined;
    return [...((status?.initContainerStatuses as Obj[] | undefined) ?? []), ...((status?.containerStatuses as Obj[] | undefined) ?? [])];
}

/** Why a container of `pod` will not start without a change (a crash loop, a missing image, a bad spec), if one will not. */
export function podStuck(pod: KubeObject): string | undefined {
    for (const c of containerStatuses(pod)) {
        const waiting = (c.state as Obj | undefined)?.waiting as { reason?: string; message?: string } | undefined;
        const reason = waiting?.reason ?? "";
        if (/CrashLoopBackOff|Err|Invalid|CreateContainer/.test(reason)) return `${String(c.name)}: ${reason} ${waiting?.message ?? ""}`;
    }
    return undefined;
}

/** A pod's container states and the end of each container's log, for a failure message. */
export function describePod(node: RealNode, pod: KubeObject): string {
    const lines = [`pod ${String((pod.metadata as Obj).name)}: ${String((pod.status as Obj | undefined)?.phase)}`];
    for (const c of containerStatuses(pod)) {
        lines.push(
            `  ${String(c.name)}: restarts ${String(c.restartCount)}, state ${JSON.stringify(c.state)}, last ${JSON.stringify(c.lastState)}`,
        );
        const tail = containerLog(node, pod, String(c.name)).split("\n").slice(-15);
        lines.push(...tail.map((l) => `    | ${l}`));
    }
    return lines.join("\n");
}
