// `npm run bench`: how fast the program renders against its empty-program floor, how its cost grows
// with the fleet, and how fast it starts. Every figure is the median of several runs (min-max beside
// it), measured side by side in one run so ratios are meaningful on a noisy machine. Prints Markdown.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { projectRoot, readStackConfig, stackFile } from "../../cli/stackfile";

interface Sample {
    wallMs: number;
    firstResourceMs: number | null;
    maxRssKb: number;
    resources: number;
}

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const child = path.join(__dirname, "bench-child.js");

function measure(args: string[], node: string[] = []): Sample {
    const res = spawnSync(process.execPath, [...node, ...args], { encoding: "utf8", cwd: projectRoot, maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0) throw new Error(`benchmark run failed: ${args.join(" ")}\n${res.stderr}`);
    return JSON.parse(res.stdout.trim().split("\n").pop() ?? "{}") as Sample;
}

/** Interleaves the variants run by run, so drift on the machine hits all of them alike. */
function interleaved(variants: Record<string, () => Sample>): Record<string, Sample[]> {
    const out: Record<string, Sample[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let i = 0; i < RUNS; i++) for (const [k, f] of Object.entries(variants)) out[k].push(f());
    return out;
}

function stats(values: number[]): { median: number; min: number; max: number } {
    const v = [...values].sort((a, b) => a - b);
    const mid = Math.floor(v.length / 2);
    return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v[v.length - 1] };
}

const fmt = (s: { median: number; min: number; max: number }, digits = 0) =>
    `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;

/** A stack file like the baremetal one with `n` generated databases over n/2 namespaces. */
function fleetFile(n: number, dir: string): string {
    const { config } = readStackConfig(stackFile("baremetal"));
    const doc: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
        try {
            doc[k] = JSON.parse(v);
        } catch {
            doc[k] = v;
        }
    }
    const namespaces = Array.from({ length: Math.max(1, Math.ceil(n / 2)) }, (_, i) => `team-${i}`);
    doc["backup:namespaces"] = namespaces;
    doc["backup:postgres"] = Array.from({ length: n }, (_, i) => ({ name: `db-${i}`, namespace: namespaces[i % namespaces.length] }));
    const file = path.join(dir, `Pulumi.fleet-${n}.yaml`);
    fs.writeFileSync(file, stringify({ config: doc }));
    return file;
}

function main(): void {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-"));
    const lines: string[] = [];
    const say = (l = "") => {
        lines.push(l);
        process.stdout.write(`${l}\n`);
    };
    say(
        `Machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; ${RUNS} runs each, median (min-max).`,
    );
    renderVsFloor(say);
    scale(say, tmp);
    coldStart(say);
    if (process.env.BENCH_ENGINE !== "0") say("\n(Real-engine figures: `npm run bench:engine`, which needs the local toolchain.)");
    fs.rmSync(tmp, { recursive: true, force: true });
}

/** Section 1: each stack's render time against the empty program's. */
function renderVsFloor(say: (l?: string) => void): void {
    say("\n### 1. Render: program vs. empty-program floor\n");
    say("| stack | empty program ms | program ms | ratio | resources |");
    say("| --- | --- | --- | --- | --- |");
    for (const stack of ["baremetal", "aws"]) {
        const r = interleaved({
            empty: () => measure([child, "--program", "empty", "--stack", stack]),
            real: () => measure([child, "--program", "real", "--stack", stack]),
        });
        const e = stats(r.empty.map((s) => s.wallMs));
        const p = stats(r.real.map((s) => s.wallMs));
        say(`| ${stack} | ${fmt(e)} | ${fmt(p)} | ${(p.median / e.median).toFixed(2)} | ${r.real[0].resources} |`);
    }
}

/** Section 2: generated fleets of 10, 100 and 500 databases (stack files written to `tmp`), cost per resource above the floor. */
function scale(say: (l?: string) => void, tmp: string): void {
    say("\n### 2. Scale: generated inventories (baremetal)\n");
    say("| databases | wall ms | peak RSS MiB | resources | ms / resource |");
    say("| --- | --- | --- | --- | --- |");
    const sizes = [10, 100, 500];
    const floor = interleaved({ empty: () => measure([child, "--program", "empty", "--stack", "baremetal"]) }).empty;
    const floorMs = stats(floor.map((s) => s.wallMs)).median;
    const perResource: Record<number, number> = {};
    const fleets = interleaved(
        Object.fromEntries(
            sizes.map((n) => [String(n), () => measure([child, "--stack", `fleet-${n}`, "--config-file", fleetFile(n, tmp)])]),
        ),
    );
    for (const n of sizes) {
        const samples = fleets[String(n)];
        const wall = stats(samples.map((s) => s.wallMs));
        const rss = stats(samples.map((s) => s.maxRssKb / 1024));
        const count = samples[0].resources;
        // Cost per resource above the floor (process start, SDK loading), which does not grow with the fleet.
        perResource[n] = (wall.median - floorMs) / count;
        say(`| ${n} | ${fmt(wall)} | ${fmt(rss)} | ${count} | ${perResource[n].toFixed(3)} |`);
    }
    say(
        `\nPer-resource cost above the floor (${floorMs.toFixed(0)} ms), 500 vs. 10 databases: ${(perResource[500] / perResource[10]).toFixed(2)}x`,
    );
}

/** Section 4: time to the first registered resource, precompiled JavaScript against TypeScript through ts-node. */
function coldStart(say: (l?: string) => void): void {
    say("\n### 4. Cold start: time to first resource registered (baremetal)\n");
    say("| mode | first resource ms | total ms |");
    say("| --- | --- | --- |");
    const tsChild = path.join(projectRoot, "e2e", "bench", "bench-child.ts");
    const cold = interleaved({
        "precompiled JavaScript (shipped)": () => measure([child, "--stack", "baremetal"]),
        "TypeScript via ts-node (transpile only)": () =>
            measure([tsChild, "--stack", "baremetal"], ["-r", "ts-node/register/transpile-only"]),
    });
    for (const [mode, samples] of Object.entries(cold)) {
        say(`| ${mode} | ${fmt(stats(samples.map((s) => s.firstResourceMs ?? NaN)))} | ${fmt(stats(samples.map((s) => s.wallMs)))} |`);
    }
}

main();
