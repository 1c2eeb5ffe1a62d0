// `npm run bench:engine [-- --quick] [-- --runs N] [-- --fleet 10,100,500] [-- --keep]`: the real engine against the
// local control plane. preview, first up and no-op up of the baremetal stack next to the same for an empty program
// (same SDK imports, nothing registered: the floor) and for a synthetic program with as many minimal ConfigMaps as the
// stack has custom resources (the engine's own cost per resource, e2e/bench/synthetic-program.ts), then the no-op up at
// each fleet size next to the floor's and the synthetic's in the same interleaved runs, and the state size
// (`pulumi stack export`, and the compact checkpoint). Medians of interleaved runs (min-max beside them); prints
// Markdown naming the machine, the runs and the floor.
// --quick: three runs, no fleet (under five minutes here), for use before a commit.
// --keep: leave each fleet in the cluster instead of destroying it (a 500-database destroy takes as long as its first
// up); purge the cluster afterwards (`bash e2e/cluster.sh stop --purge`).
// --synthetic-max N: the synthetic program runs beside fleets of up to N databases (default 100; its first up at the
// 500-database fleet's size costs as much as the fleet's own).
// --crds-job: the demo stack once more with `velero.crds: job`, whose CRD Job needs a node: starts e2e/node.sh's kubelet
// with the Velero and kubectl images (e2e/images/, as e2e/test/velero-pod.e2e.ts does) and stops it at the end.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { kube, localOverrides, startCluster, toolchainEnv } from "../harness";
import { Workspace } from "../workspace";
import { startNode, stopNode, type RealNode } from "../node";
import { chartImages, KUBECTL_IMAGE, loadKubectlImage, loadVeleroImages } from "../velero/images";
import { apiPath } from "../../kube/client";

interface Options {
    runs: number;
    fleet: number[];
    /** Engine settings to compare (`--with NAME=value`, repeatable): the demo stack again with each, interleaved. */
    settings: [string, string][];
    /** Leave the fleets in the cluster. */
    keep: boolean;
    /** The largest fleet the synthetic program runs beside. */
    syntheticMax: number;
    /** The demo stack with `velero.crds: job` too (on a node). */
    crdsJob: boolean;
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
    const syntheticMax = Number(value("--synthetic-max") ?? 100);
    if (
        !Number.isInteger(syntheticMax) ||
        !Number.isInteger(runs) ||
        runs < 1 ||
        fleet.some((n) => !Number.isInteger(n) || n < 2) ||
        settings.some(([k, v]) => !/^[A-Z][A-Z0-9_]*$/.test(k) || v === undefined)
    ) {
        process.stderr.write(
            "usage: npm run bench:engine -- [--quick] [--runs <n>=1..] [--fleet <n>,<n>... (each >= 2)] [--keep] " +
                "[--synthetic-max <n>] [--crds-job] [--with NAME=value ...]\n",
        );
        process.exit(64);
    }
    return { runs, fleet, settings, keep: argv.includes("--keep"), syntheticMax, crdsJob: argv.includes("--crds-job") };
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

/** A workspace whose program is `call` of a module in bin/e2e/bench (Pulumi.yaml `main` pointed at it). */
function benchWorkspace(env: NodeJS.ProcessEnv, kubeconfig: string, module: string, call: string): Workspace {
    const ws = new Workspace("baremetal", env, kubeconfig);
    fs.writeFileSync(
        path.join(ws.dir, "bench-entry.js"),
        `module.exports = () => require(${JSON.stringify(path.join(ws.dir, "bin", "e2e", "bench", module))}).${call};\n`,
    );
    fs.writeFileSync(
        path.join(ws.dir, "Pulumi.yaml"),
        fs.readFileSync(path.join(ws.dir, "Pulumi.yaml"), "utf8").replace(/^main: .*$/m, "main: bench-entry.js"),
    );
    return ws;
}

/** A workspace whose program is the empty one: the floor. */
const emptyWorkspace = (env: NodeJS.ProcessEnv, kubeconfig: string) =>
    benchWorkspace(env, kubeconfig, "empty-program.js", `emptyProgram("baremetal")`);

/** A workspace whose program registers `n` minimal ConfigMaps named `<prefix>-<i>`. */
const syntheticWorkspace = (env: NodeJS.ProcessEnv, kubeconfig: string, n: number, prefix: string) =>
    benchWorkspace(env, kubeconfig, "synthetic-program.js", `syntheticProgram(${n}, ${JSON.stringify(prefix)})`);

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

/**
 * Sizes of a stack's state: as `pulumi stack export` prints it (indented) and as compact JSON (the checkpoint), its
 * resources, and of those the custom ones other than providers (what the synthetic program registers as many of).
 */
function stateSize(ws: Workspace): { exported: number; compact: number; resources: number; custom: number } {
    const text = ws.exportState();
    const state = JSON.parse(text) as { deployment: { resources: { custom?: boolean; type: string }[] } };
    const resources = state.deployment.resources;
    return {
        exported: Buffer.byteLength(text),
        compact: Buffer.byteLength(JSON.stringify(state)),
        resources: resources.length,
        custom: resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:")).length,
    };
}

/**
 * preview, first up and no-op up of the empty program, of the demo stack, of the synthetic program with as many
 * ConfigMaps as the demo stack has custom resources (known after the stack's first run), and of the demo stack under
 * each setting, interleaved, `runs` times each.
 */
function demoRuns(
    env: NodeJS.ProcessEnv,
    kubeconfig: string,
    runs: number,
    settings: [string, string][],
    crdsJob?: Record<string, unknown>,
) {
    let custom = 0;
    const variants: { label: () => string; workspace: () => Workspace; program: boolean; overrides: Record<string, unknown> }[] = [
        {
            label: () => "empty program (floor)",
            workspace: () => emptyWorkspace(env, kubeconfig),
            program: false,
            overrides: localOverrides(),
        },
        {
            label: () => "baremetal program",
            workspace: () => new Workspace("baremetal", env, kubeconfig),
            program: true,
            overrides: localOverrides(),
        },
        {
            label: () => `synthetic, ${custom} ConfigMaps`,
            workspace: () => syntheticWorkspace(env, kubeconfig, custom, "synthetic-demo"),
            program: false,
            overrides: localOverrides(),
        },
        ...(crdsJob
            ? [
                  {
                      label: () => "program, velero.crds: job",
                      workspace: () => new Workspace("baremetal", env, kubeconfig),
                      program: true,
                      overrides: { ...localOverrides(), ...crdsJob },
                  },
              ]
            : []),
        ...settings.map(([k, v]) => ({
            label: () => `program, ${k}=${v}`,
            workspace: () => new Workspace("baremetal", { ...env, [k]: v }, kubeconfig),
            program: true,
            overrides: localOverrides(),
        })),
    ];
    const results = variants.map(() => ({ preview: [] as number[], first: [] as number[], noop: [] as number[] }));
    /** Each program variant's state after its first run's no-op `up`. */
    const states: (ReturnType<typeof stateSize> | undefined)[] = variants.map(() => undefined);
    let databases = 0;
    for (let i = 0; i < runs; i++) {
        variants.forEach((variant, j) => {
            const ws = variant.workspace();
            try {
                ws.init(variant.overrides);
                results[j].preview.push(timed(() => ws.pulumi(["preview", "--stack", "baremetal"])));
                results[j].first.push(timed(() => ws.up()));
                results[j].noop.push(timed(() => ws.up()));
                if (variant.program && i === 0) states[j] = stateSize(ws);
                if (j === 1 && i === 0) {
                    custom = states[1]?.custom ?? 0;
                    databases = Object.keys((ws.outputs().postgres as Record<string, unknown> | undefined) ?? {}).length;
                }
                if (variant.program) reallyDestroy(ws, variant.overrides);
                else ws.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"]);
            } finally {
                ws.remove();
            }
        });
    }
    return { labels: variants.map((v) => v.label()), results, states, databases };
}

/**
 * The fleet of `n` databases: its first up, the synthetic program's at the same custom resource count (up to
 * `syntheticMax` databases), then no-op ups interleaved with the floor's (an empty program's) and the synthetic's.
 */
async function fleetRun(env: NodeJS.ProcessEnv, kubeconfig: string, floor: Workspace, n: number, opts: Options) {
    const overrides = await seedFleet(kubeconfig, n);
    const ws = new Workspace("baremetal", env, kubeconfig);
    let synthetic: Workspace | undefined;
    try {
        ws.init(overrides);
        const first = timed(() => ws.up());
        const state = stateSize(ws);
        if (n <= opts.syntheticMax) {
            synthetic = syntheticWorkspace(env, kubeconfig, state.custom, `synthetic-f${n}`);
            synthetic.init(localOverrides());
            synthetic.up();
        }
        const noop: number[] = [];
        const floorNoop: number[] = [];
        const syntheticNoop: number[] = [];
        for (let i = 0; i < opts.runs; i++) {
            floorNoop.push(timed(() => floor.up()));
            noop.push(timed(() => ws.up()));
            if (synthetic) syntheticNoop.push(timed(() => synthetic!.up()));
        }
        synthetic?.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"]);
        if (!opts.keep) reallyDestroy(ws, overrides);
        return { n, first, noop, floorNoop, syntheticNoop, state };
    } finally {
        ws.remove();
        synthetic?.remove();
    }
}

/** The demo stack's overrides for `velero.crds: job`, with the kubectl stand-in the node has. */
const crdsJobOverrides = () => ({ "backup:velero": { crds: "job", kubectlImage: KUBECTL_IMAGE } });

async function main(): Promise<void> {
    const opts = options(process.argv.slice(2));
    const env = toolchainEnv();
    const kubeconfig = startCluster(env);
    const say = (l = "") => process.stdout.write(`${l}\n`);
    const floor = emptyWorkspace(env, kubeconfig);
    let node: RealNode | undefined;
    try {
        if (opts.crdsJob) {
            // The CRD Job's pod runs the chart's server image with sh and kubectl from the kubectl image; the server's
            // pod runs too (the same image), idle: its BackupStorageLocation names the in-cluster RGW, unreachable here.
            node = startNode(env);
            loadVeleroImages(node, chartImages());
            loadKubectlImage(node);
        }
        floor.init(localOverrides());
        floor.up();
        say(`Machine: ${machine(floor)}.`);
        say(`Floor: the empty program (e2e/bench/empty-program.ts: the same SDKs loaded, nothing registered), in the same runs.`);
        say(
            `Synthetic: as many minimal ConfigMaps as the stack has custom resources (e2e/bench/synthetic-program.ts): the ` +
                `engine's own cost per resource, in the same runs.\n`,
        );
        const demo = demoRuns(env, kubeconfig, opts.runs, opts.settings, node ? crdsJobOverrides() : undefined);
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
        demo.states.forEach((st, j) => {
            if (!st) return;
            say(
                `\nState of the demo stack (${demo.labels[j]}): ${st.resources} resources (${st.custom} custom, not providers); ` +
                    `\`pulumi stack export\` ${kb(st.exported)} (${st.exported} bytes, indented), ${kb(st.compact)} as compact JSON ` +
                    `(the checkpoint file).`,
            );
        });
        if (opts.fleet.length === 0) return;

        say(`\n### Fleet: no-op \`pulumi up\` next to the floor's, ${opts.runs} interleaved runs each, seconds, median (min-max)\n`);
        say("Dashboard off at every size. Each row is printed when its fleet is done.\n");
        say(
            "| databases | resources (custom) | first up | no-op up | floor no-op | ratio | ms per resource above the floor | " +
                "synthetic no-op | synthetic ratio | synthetic ms per resource | state (export / compact) |",
        );
        say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        const fleet = [];
        for (const n of opts.fleet) {
            const f = await fleetRun(env, kubeconfig, floor, n, opts);
            fleet.push(f);
            const floorMedian = median(f.floorNoop);
            const perResource = (median(f.noop) - floorMedian) / f.state.resources;
            const synthetic =
                f.syntheticNoop.length > 0
                    ? `${stats(f.syntheticNoop)} | ${(median(f.syntheticNoop) / floorMedian).toFixed(2)} | ` +
                      `${((median(f.syntheticNoop) - floorMedian) / f.state.custom).toFixed(1)}`
                    : "not run | | ";
            say(
                `| ${f.n} | ${f.state.resources} (${f.state.custom}) | ${(f.first / 1000).toFixed(2)} | ${stats(f.noop)} | ` +
                    `${stats(f.floorNoop)} | ${(median(f.noop) / floorMedian).toFixed(2)} | ${perResource.toFixed(1)} | ${synthetic} | ` +
                    `${kb(f.state.exported)} / ${kb(f.state.compact)} |`,
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
        stopNode(node);
        say(`\nLoad average at the end: ${os.loadavg()[0].toFixed(1)}.`);
    }
}

main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
