// `npm run bench:engine`: the real engine against the local control plane. preview, first up and
// no-op up of the baremetal stack next to the same for an empty program (same SDK imports), and the
// no-op up at 100 databases, and the state size (`pulumi stack export`) of both. Medians of interleaved runs
// (min-max beside them); prints Markdown.
import * as fs from "fs";
import * as path from "path";
import { kube, localOverrides, startCluster, toolchainEnv } from "../harness";
import { Workspace } from "../workspace";
import { apiPath } from "../../kube/client";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function timed(f: () => void): number {
    const t = performance.now();
    f();
    return performance.now() - t;
}

function stats(v: number[]): string {
    const s = [...v].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
    return `${(median / 1000).toFixed(2)} (${(s[0] / 1000).toFixed(2)}-${(s[s.length - 1] / 1000).toFixed(2)})`;
}

/**
 * Destroys for real, the documented way: opt out of retention, apply, destroy, so every cycle's first
 * `up` creates everything instead of adopting what the previous cycle retained.
 */
function reallyDestroy(ws: Workspace, overrides: Record<string, unknown>): void {
    ws.setConfig({ ...overrides, "backup:dataSafety": { retainOnDelete: false } });
    ws.up();
    ws.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"]);
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** A workspace whose program is the empty one (Pulumi.yaml `main` pointed at it). */
function emptyWorkspace(env: NodeJS.ProcessEnv, kubeconfig: string): Workspace {
    const ws = new Workspace("baremetal", env, kubeconfig);
    const entry = path.join(ws.dir, "empty-entry.js");
    fs.writeFileSync(
        entry,
        `module.exports = () => require(${JSON.stringify(path.join(ws.dir, "bin", "e2e", "bench", "empty-program.js"))}).emptyProgram("baremetal");\n`,
    );
    fs.writeFileSync(
        path.join(ws.dir, "Pulumi.yaml"),
        fs.readFileSync(path.join(ws.dir, "Pulumi.yaml"), "utf8").replace(/^main: .*$/m, "main: empty-entry.js"),
    );
    return ws;
}

async function seedFleet(kubeconfig: string, n: number): Promise<Record<string, unknown>> {
    const k = kube(kubeconfig);
    const namespaces = Array.from({ length: Math.ceil(n / 2) }, (_, i) => `team-${i}`);
    try {
        for (const ns of namespaces)
            await k.apply(
                apiPath("", "v1", "namespaces", undefined, ns),
                { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } },
                "bench",
            );
        for (let i = 0; i < n; i++) {
            const ns = namespaces[i % namespaces.length];
            await k.apply(
                apiPath("postgresql.cnpg.io", "v1", "clusters", ns, `db-${i}`),
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    metadata: { name: `db-${i}`, namespace: ns },
                    spec: { instances: 1, storage: { size: "1Gi" } },
                },
                "app-team",
            );
        }
    } finally {
        k.close();
    }
    return {
        ...localOverrides(),
        "backup:namespaces": namespaces,
        "backup:postgres": Array.from({ length: n }, (_, i) => ({ name: `db-${i}`, namespace: namespaces[i % namespaces.length] })),
    };
}

async function main(): Promise<void> {
    const env = toolchainEnv();
    const kubeconfig = startCluster(env);
    const say = (l = "") => process.stdout.write(`${l}\n`);
    const results: Record<string, Record<string, number[]>> = {
        empty: { preview: [], first: [], noop: [] },
        program: { preview: [], first: [], noop: [] },
    };
    const stateBytes: number[] = [];
    let databases = 0;
    for (let i = 0; i < RUNS; i++) {
        for (const which of ["empty", "program"] as const) {
            const ws = which === "empty" ? emptyWorkspace(env, kubeconfig) : new Workspace("baremetal", env, kubeconfig);
            try {
                ws.init(localOverrides());
                results[which].preview.push(timed(() => ws.pulumi(["preview", "--stack", "baremetal"])));
                results[which].first.push(timed(() => ws.up()));
                results[which].noop.push(timed(() => ws.up()));
                if (which === "program") {
                    stateBytes.push(Buffer.byteLength(ws.exportState()));
                    databases = Object.keys((ws.outputs().postgres as Record<string, unknown> | undefined) ?? {}).length;
                }
                reallyDestroy(ws, localOverrides());
            } finally {
                ws.remove();
            }
        }
    }
    say(`### 3. Real engine (pulumi 3.259.0, local kube-apiserver; seconds, ${RUNS} runs, median (min-max))\n`);
    say("| operation | empty program | baremetal program | ratio |");
    say("| --- | --- | --- | --- |");
    for (const [op, label] of [
        ["preview", "`pulumi preview`"],
        ["first", "first `pulumi up`"],
        ["noop", "no-op `pulumi up`"],
    ] as const) {
        const e = results.empty[op];
        const p = results.program[op];
        say(`| ${label} | ${stats(e)} | ${stats(p)} | ${(median(p) / median(e)).toFixed(2)} |`);
    }

    const fleet = await seedFleet(kubeconfig, 100);
    const ws = new Workspace("baremetal", env, kubeconfig);
    try {
        ws.init(fleet);
        const first = timed(() => ws.up());
        const noop = Array.from({ length: RUNS }, () => timed(() => ws.up()));
        const state = ws.exportState();
        const count = (JSON.parse(state) as { deployment: { resources: unknown[] } }).deployment.resources.length;
        const bytes = Buffer.byteLength(state);
        const demo = median(stateBytes);
        say(`\n100 databases (${count} resources in state): first up ${(first / 1000).toFixed(2)} s, no-op up ${stats(noop)} s`);
        say(`\nState (\`pulumi stack export | wc -c\`): demo stack (${databases} databases) ${kb(demo)}, 100 databases ${kb(bytes)}`);
        if (databases < 100) say(`growth per database: ${kb((bytes - demo) / (100 - databases))}`);
        reallyDestroy(ws, fleet);
    } finally {
        ws.remove();
    }
}

main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
