// `npm run bench:engine [-- --quick] [-- --runs N] [-- --fleet 10,100,500]`: the real engine against the local
// control plane. preview, first up and no-op up of the baremetal stack next to the same for an empty program
// (same SDK imports, nothing registered: the floor), then the no-op up at each fleet size next to the floor's
// no-op in the same interleaved runs, and the state size (`pulumi stack export`, and the compact checkpoint).
// Medians of interleaved runs (min-max beside them); prints Markdown naming the machine, the runs and the floor.
// --quick: three runs, no fleet (under five minutes here), for use before a commit.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kube, localOverrides, startCluster, toolchainEnv } from "../harness";
import { Workspace } from "../workspace";
import { apiPath } from "../../kube/client";

interface Options {
    runs: number;
    fleet: number[];
    /** Engine settings to compare (`--with NAME=value`, repeatable): the demo stack again with each, interleaved. */
    settings: [string, string][];
}

function options(argv: string[]): Options {
    const quick = argv.includes("--quick");
    const value = (flag: string) => {
        const i = argv.indexOf(flag);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const runs = Number(value("--runs") ?? process.env.BENCH_RUNS ?? 3);
    const fleet = quick ? [] : (value("--fleet") ?? "10,100").split(",").map(Number);
    const settings = argv.flatMap((a, i) => (argv[i - 1] === "--with" ? [a] : [])).map((a) => a.split("=", 2) as [string, string]);
    if (
        !Number.isInteger(runs) ||
        runs < 1 ||
        fleet.some((n) => !Number.isInteger(n) || n < 2) ||
        settings.some(([k, v]) => !/^[A-Z][A-Z0-9_]*$/.test(k) || v === undefined)
    ) {
        process.stderr.write(
            "usage: npm run bench:engine -- [--quick] [--runs <n>=1..] [--fleet <n>,<n>... (each >= 2)] [--with NAME=value ...]\n",
        );
        process.exit(64);
    }
    return { runs, fleet, settings };
}

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
    // Names unique per fleet size: one run seeds several fleets in the same cluster.
    const namespaces = Array.from({ length: Math.ceil(n / 2) }, (_, i) => `f${n}-team-${i}`);
    const database = (i: number) => `f${n}-db-${i}`;
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
                apiPath("postgresql.cnpg.io", "v1", "clusters", ns, database(i)),
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    metadata: { name: database(i), namespace: ns },
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
        // The dashboard off, as in BENCHMARKS 3e (when it had a row per database and did not fit above about 150): the
        // fleets measure the backup paths, the same at every size, comparable with 3e.
        "backup:dashboard": { enabled: false },
        "backup:postgres": Array.from({ length: n }, (_, i) => ({ name: database(i), namespace: namespaces[i % namespaces.length] })),
    };
}

/** The machine and the versions the numbers belong to. */
function machine(ws: Workspace): string {
    const cpus = os.cpus();
    const pulumi = ws.pulumi(["version"]).stdout.trim();
    return (
        `${cpus.length} x ${cpus[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}; ` +
        `Node.js ${process.version}, pulumi ${pulumi}; load average at start ${os.loadavg()[0].toFixed(1)}`
    );
}

/** Sizes of a stack's state: as `pulumi stack export` prints it (indented) and as compact JSON (the checkpoint). */
function stateSize(ws: Workspace): { exported: number; compact: number; resources: number } {
    const text = ws.exportState();
    const state = JSON.parse(text) as { deployment: { resources: unknown[] } };
    return {
        exported: Buffer.byteLength(text),
        compact: Buffer.byteLength(JSON.stringify(state)),
        resources: state.deployment.resources.length,
    };
}

/**
 * preview, first up and no-op up of the empty program, of the demo stack, and of the demo stack under each setting,
 * interleaved, `runs` times each.
 */
function demoRuns(env: NodeJS.ProcessEnv, kubeconfig: string, runs: number, settings: [string, string][]) {
    const variants = [
        { label: "empty program (floor)", empty: true, env },
        { label: "baremetal program", empty: false, env },
        ...settings.map(([k, v]) => ({ label: `program, ${k}=${v}`, empty: false, env: { ...env, [k]: v } })),
    ];
    const results = variants.map(() => ({ preview: [] as number[], first: [] as number[], noop: [] as number[] }));
    const states: ReturnType<typeof stateSize>[] = [];
    let databases = 0;
    for (let i = 0; i < runs; i++) {
        variants.forEach((variant, j) => {
            const ws = variant.empty ? emptyWorkspace(variant.env, kubeconfig) : new Workspace("baremetal", variant.env, kubeconfig);
            try {
                ws.init(localOverrides());
                results[j].preview.push(timed(() => ws.pulumi(["preview", "--stack", "baremetal"])));
                results[j].first.push(timed(() => ws.up()));
                results[j].noop.push(timed(() => ws.up()));
                if (j === 1) {
                    states.push(stateSize(ws));
                    databases = Object.keys((ws.outputs().postgres as Record<string, unknown> | undefined) ?? {}).length;
                }
                reallyDestroy(ws, localOverrides());
            } finally {
                ws.remove();
            }
        });
    }
    return { labels: variants.map((v) => v.label), results, state: states[0], databases };
}

/** The fleet of `n` databases: first up, then no-op ups interleaved with the floor's (an empty program's) no-ops. */
async function fleetRun(env: NodeJS.ProcessEnv, kubeconfig: string, floor: Workspace, n: number, runs: number) {
    const overrides = await seedFleet(kubeconfig, n);
    const ws = new Workspace("baremetal", env, kubeconfig);
    try {
        ws.init(overrides);
        const first = timed(() => ws.up());
        const noop: number[] = [];
        const floorNoop: number[] = [];
        for (let i = 0; i < runs; i++) {
            floorNoop.push(timed(() => floor.up()));
            noop.push(timed(() => ws.up()));
        }
        const state = stateSize(ws);
        reallyDestroy(ws, overrides);
        return { n, first, noop, floorNoop, state };
    } finally {
        ws.remove();
    }
}

async function main(): Promise<void> {
    const opts = options(process.argv.slice(2));
    const env = toolchainEnv();
    const kubeconfig = startCluster(env);
    const say = (l = "") => process.stdout.write(`${l}\n`);
    const floor = emptyWorkspace(env, kubeconfig);
    try {
        floor.init(localOverrides());
        floor.up();
        say(`Machine: ${machine(floor)}.`);
        say(`Floor: the empty program (e2e/bench/empty-program.ts: the same SDKs loaded, nothing registered), in the same runs.\n`);
        const demo = demoRuns(env, kubeconfig, opts.runs, opts.settings);
        say(`### Demo stack (${demo.databases} databases): seconds, ${opts.runs} interleaved runs, median (min-max)\n`);
        const [, ...others] = demo.labels;
        say(`| operation | ${demo.labels[0]} | ${others.map((l) => `${l} | ratio`).join(" | ")} |`);
        say(`| --- | --- | ${others.map(() => "--- | ---").join(" | ")} |`);
        for (const [op, label] of [
            ["preview", "`pulumi preview`"],
            ["first", "first `pulumi up`"],
            ["noop", "no-op `pulumi up`"],
        ] as const) {
            const [floor, ...rest] = demo.results.map((r) => r[op]);
            say(
                `| ${label} | ${stats(floor)} | ${rest.map((p) => `${stats(p)} | ${(median(p) / median(floor)).toFixed(2)}`).join(" | ")} |`,
            );
        }
        say(
            `\nState of the demo stack: ${demo.state.resources} resources; \`pulumi stack export\` ${kb(demo.state.exported)} ` +
                `(indented), ${kb(demo.state.compact)} as compact JSON (the checkpoint file).`,
        );
        if (opts.fleet.length === 0) return;

        say(`\n### Fleet: no-op \`pulumi up\` next to the floor's, ${opts.runs} interleaved runs each, seconds, median (min-max)\n`);
        say("Dashboard off at every size. Each row is printed when its fleet is done.\n");
        say(
            "| databases | resources | first up | no-op up | floor no-op | ratio | ms per resource above the floor | state (export / compact) |",
        );
        say("| --- | --- | --- | --- | --- | --- | --- | --- |");
        const fleet = [];
        for (const n of opts.fleet) {
            const f = await fleetRun(env, kubeconfig, floor, n, opts.runs);
            fleet.push(f);
            const perResource = (median(f.noop) - median(f.floorNoop)) / f.state.resources;
            say(
                `| ${f.n} | ${f.state.resources} | ${(f.first / 1000).toFixed(2)} | ${stats(f.noop)} | ${stats(f.floorNoop)} | ` +
                    `${(median(f.noop) / median(f.floorNoop)).toFixed(2)} | ${perResource.toFixed(1)} | ${kb(f.state.exported)} / ${kb(f.state.compact)} |`,
            );
        }
        const [small, large] = [fleet[0], fleet[fleet.length - 1]];
        if (fleet.length > 1) {
            const growth = (large.state.exported - small.state.exported) / (large.n - small.n);
            say(`\nState growth per database (${small.n} -> ${large.n}): ${kb(growth)} exported.`);
        }
    } finally {
        floor.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"], { allowFailure: true });
        floor.remove();
        say(`\nLoad average at the end: ${os.loadavg()[0].toFixed(1)}.`);
    }
}

main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
