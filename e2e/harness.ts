// Real-engine harness: the toolchain built from Go modules, the local control plane, and a Pulumi
// project workspace (a temp copy of the project's entry files with a file:// backend) in which the
// real `pulumi` CLI runs the real program against the local API server.
import { spawn, spawnSync, type SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { CHARTS } from "../components/charts";
import { apiPath, Kube } from "../scripts/kube";
import { projectRoot, readStackConfig, stackFile } from "../scripts/stackfile";

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

/** One step of `pulumi preview/up --json`. */
export interface EngineStep {
    op: string;
    urn: string;
    diffReasons?: string[];
}

/** A Pulumi project in a temp dir: Pulumi.yaml, and links to the built program and its modules. */
export class Workspace {
    readonly dir: string;
    readonly env: NodeJS.ProcessEnv;

    constructor(
        readonly stack: string,
        baseEnv: NodeJS.ProcessEnv,
        kubeconfig: string,
        dir?: string,
    ) {
        this.dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `backup-platform-${stack}-`));
        fs.mkdirSync(path.join(this.dir, "state"), { recursive: true });
        for (const f of ["Pulumi.yaml", "package.json"]) fs.copyFileSync(path.join(ROOT, f), path.join(this.dir, f));
        for (const link of ["bin", "node_modules"]) {
            const target = path.join(this.dir, link);
            if (!fs.existsSync(target)) fs.symlinkSync(path.join(ROOT, link), target);
        }
        this.env = {
            ...baseEnv,
            KUBECONFIG: kubeconfig,
            PULUMI_HOME: path.join(this.dir, "home"),
            // metadata=skip: no ".attrs" sidecar per state file. fileblob rewrites that sidecar in place (not via
            // rename like the checkpoint itself), so an up killed at the wrong moment left it empty and every
            // later command failed with "failed to load checkpoint: EOF". See README "A killed pulumi up".
            PULUMI_BACKEND_URL: `file://${path.join(this.dir, "state")}?metadata=skip`,
            PULUMI_CONFIG_PASSPHRASE: "local-e2e-passphrase",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            PULUMI_SKIP_CONFIRMATIONS: "true",
        };
    }

    /** Runs the pulumi CLI in the workspace; `stream` shows its output live instead of capturing it. */
    pulumi(args: string[], opts: { allowFailure?: boolean; stream?: boolean; input?: string } = {}): SpawnSyncReturns<string> {
        const res = spawnSync("pulumi", [...args, "--non-interactive"], {
            cwd: this.dir,
            env: this.env,
            encoding: "utf8",
            input: opts.input,
            maxBuffer: 256 * 1024 * 1024,
            stdio: opts.stream ? "inherit" : "pipe",
        });
        if (opts.stream) return { ...res, stdout: "", stderr: "" };
        if (res.status !== 0 && !opts.allowFailure) {
            throw new Error(
                `pulumi ${args.join(" ")} failed (exit ${String(res.status)}):\n${res.stdout.slice(-4000)}\n${res.stderr.slice(-4000)}`,
            );
        }
        return res;
    }

    /** Starts `pulumi up` in its own process group (for the interruption test). */
    upInBackground(): ReturnType<typeof spawn> {
        return spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", this.stack], {
            cwd: this.dir,
            env: this.env,
            detached: true,
            stdio: "ignore",
        });
    }

    /** Creates the stack (if missing) and writes its config: the repo's stack file plus `overrides`. */
    init(overrides: Record<string, unknown> = {}, sourceStack = this.stack): void {
        const file = path.join(this.dir, `Pulumi.${this.stack}.yaml`);
        if (!fs.existsSync(file)) this.pulumi(["stack", "init", this.stack, "--secrets-provider", "passphrase"]);
        this.setConfig(overrides, sourceStack);
    }

    /** Rewrites the stack's config (keeping its encryption salt). */
    setConfig(overrides: Record<string, unknown>, sourceStack = this.stack): void {
        const file = path.join(this.dir, `Pulumi.${this.stack}.yaml`);
        const doc = (fs.existsSync(file) ? (parse(fs.readFileSync(file, "utf8")) as Record<string, unknown> | null) : null) ?? {};
        const base: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(readStackConfig(stackFile(sourceStack)).config)) {
            try {
                base[k] = JSON.parse(v);
            } catch {
                base[k] = v;
            }
        }
        doc.config = { ...base, ...overrides };
        fs.writeFileSync(file, stringify(doc));
    }

    /** `pulumi preview --json`: the steps the engine plans. */
    previewSteps(extra: string[] = []): EngineStep[] {
        const res = this.pulumi(["preview", "--json", "--stack", this.stack, ...extra]);
        return ((JSON.parse(res.stdout) as { steps?: EngineStep[] }).steps ?? []).filter((s) => s.op !== "same");
    }

    up(extra: string[] = []): SpawnSyncReturns<string> {
        return this.pulumi(["up", "--yes", "--skip-preview", "--stack", this.stack, ...extra]);
    }

    outputs(): Record<string, unknown> {
        return JSON.parse(this.pulumi(["stack", "output", "--json", "--stack", this.stack]).stdout) as Record<string, unknown>;
    }

    exportState(): string {
        return this.pulumi(["stack", "export", "--stack", this.stack]).stdout;
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
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
