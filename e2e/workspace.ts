// A Pulumi project workspace for the real-engine tests: a temp copy of the project's entry files with a
// file:// backend, in which the real `pulumi` CLI runs the real program against the local API server.
import { spawn, spawnSync, type SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { readStackConfig, stackFile } from "../cli/stackfile";
import { ROOT } from "./harness";

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
            // The engine prints its diagnostics before the outputs, which can be long: keep them whatever the length.
            const diagnostics = /\nDiagnostics:\n[\s\S]*?(?=\nOutputs:|\nResources:|$)/.exec(res.stdout)?.[0].slice(0, 8000) ?? "";
            throw new Error(
                `pulumi ${args.join(" ")} failed (exit ${String(res.status)}):${diagnostics}\n${res.stdout.slice(-4000)}\n${res.stderr.slice(-4000)}`,
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
