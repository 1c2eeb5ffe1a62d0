// `npm run verify -- --stack <name> [--output table|json] [--watch [--interval <seconds>]] [--kubeconfig <file>]
//   [--context <name>] [--config-file <file>]`: reads the live cluster and prints one row per protected thing.
// Exit codes (README, "Verification"): 0 nothing failed (warnings allowed), 1 something stale, failed or
// uncovered, 2 the stack config or the cluster could not be read, 64 a usage error. The command line is
// parsed by Node's util.parseArgs; the I/O is injected (`verify`) so every path is testable without a cluster.
import { parseArgs as parseCommandLine } from "util";
import { parseConfigMap, type Config } from "../config";
import { evaluate } from "./checks";
import { type Row } from "./rows";
import { snapshot } from "./snapshot";
import { Kube, type KubeOptions } from "../kube/client";
import { readStackConfig, stackFile } from "./stackfile";
import { runCli } from "./run";
import { sleep, watch, type Refresh, type WatchOptions } from "./watch";

/** The documented exit codes. */
export const EXIT = {
    /** Every row OK or WARN. */
    fresh: 0,
    /** At least one FAIL row: stale, failed, missing or an unprotected PVC. */
    problems: 1,
    /** The stack config, the kubeconfig or the API server could not be read: no verdict. */
    unreadable: 2,
    /** Bad command line (sysexits EX_USAGE, as `npm run drill`). */
    usage: 64,
} as const;

export const OUTPUTS = ["table", "json"] as const;
export type Output = (typeof OUTPUTS)[number];

/** `--watch` refresh interval: the default, and bounds (each refresh lists a dozen collections; backups are hourly at best). */
export const INTERVAL = { default: 30, min: 5, max: 3600 } as const;

/** Seconds one API request may take before the refresh counts as a read failure. */
const REQUEST_TIMEOUT_SECONDS = 30;

export interface VerifyArgs {
    stack: string;
    output: Output;
    /** Refresh interval in seconds with --watch; undefined for one check. */
    watchSeconds?: number;
    configFile?: string;
    kubeconfig?: string;
    context?: string;
    help: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: npm run verify -- --stack <name> [--output table|json] [--watch [--interval <seconds>]]
         [--kubeconfig <file>] [--context <name>] [--config-file <file>]
  -o, --output     table (default) or json; --json is --output json
  -w, --watch      check again every --interval seconds (default ${INTERVAL.default}, ${INTERVAL.min}-${INTERVAL.max}) until Ctrl-C
  -h, --help       this text
exit: 0 all fresh (warnings allowed), 1 something stale, failed or uncovered,
      2 the stack config or the cluster could not be read, 64 usage error`;

/** Parses the command line (pure, for tests); throws UsageError with a message naming the flag. */
export function parseArgs(argv: string[]): VerifyArgs {
    let values;
    try {
        ({ values } = parseCommandLine({
            args: argv,
            strict: true,
            allowPositionals: false,
            options: {
                stack: { type: "string" },
                output: { type: "string", short: "o" },
                json: { type: "boolean" },
                watch: { type: "boolean", short: "w" },
                interval: { type: "string" },
                "config-file": { type: "string" },
                kubeconfig: { type: "string" },
                context: { type: "string" },
                help: { type: "boolean", short: "h" },
            },
        }));
    } catch (err) {
        throw new UsageError(usageMessage(err as Error & { code?: string }));
    }
    if (values.help === true) return { stack: values.stack ?? "", output: "table", help: true };
    if (values.stack === undefined || values.stack === "") throw new UsageError("--stack is required");
    const output = values.output ?? (values.json === true ? "json" : "table");
    if (!(OUTPUTS as readonly string[]).includes(output)) throw new UsageError(`--output "${output}" is not one of ${OUTPUTS.join(", ")}`);
    if (values.json === true && output !== "json") throw new UsageError(`--json means --output json; it contradicts --output ${output}`);
    let watchSeconds: number | undefined;
    if (values.interval !== undefined && values.watch !== true) throw new UsageError("--interval applies to --watch only");
    if (values.watch === true) {
        const raw = values.interval ?? String(INTERVAL.default);
        watchSeconds = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
        if (!(watchSeconds >= INTERVAL.min && watchSeconds <= INTERVAL.max))
            throw new UsageError(`--interval "${raw}" must be a whole number of seconds from ${INTERVAL.min} to ${INTERVAL.max}`);
    }
    return {
        stack: values.stack,
        output: output as Output,
        watchSeconds,
        configFile: values["config-file"],
        kubeconfig: values.kubeconfig,
        context: values.context,
        help: false,
    };
}

/** util.parseArgs' errors, in this command's words (its "ambiguous" message spans three lines). */
function usageMessage(err: Error & { code?: string }): string {
    const flag = /'(?:-\w, )?(-[^' ]+)/.exec(err.message)?.[1] ?? ""; // "'-w, --watch'" names both
    if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${flag}`;
    if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ""}`;
    if (/does not take an argument/.test(err.message))
        return flag === "--watch" ? "--watch takes no value; set the period with --interval <seconds>" : `${flag} takes no value`;
    if (/argument missing|ambiguous/.test(err.message)) return `${flag} needs a value`;
    return err.message.split("\n")[0];
}

/** 0 when no row FAILs (a WARN, such as a first backup still within its interval, is not a failure), else 1. */
export function exitCode(rows: Row[]): 0 | 1 {
    return rows.some((r) => r.status === "FAIL") ? EXIT.problems : EXIT.fresh;
}

/** What `verify` needs from the cluster: list collections. */
export type Lister = Pick<Kube, "list" | "close">;

/** The human table. */
export function table(rows: Row[]): string {
    const header = ["KIND", "NAME", "STATUS", "DETAIL"];
    const cells = rows.map((r) => [r.kind, r.name, r.status, r.detail]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join("  ");
    return [line(header), ...cells.map(line)].join("\n");
}

/** The table's last line. */
export function summary(rows: Row[]): string {
    const fails = rows.filter((r) => r.status === "FAIL").length;
    const warns = rows.filter((r) => r.status === "WARN").length;
    if (fails > 0) return `${fails} problem(s) found`;
    return warns > 0 ? `all backups verified; ${warns} warning(s), which do not fail the check` : "all backups verified";
}

/** The JSON document of one check; `error` (and no rows) when the cluster could not be read. */
export interface Report {
    stack: string;
    checkedAt: string;
    ok: boolean;
    exitCode: number;
    rows: Row[];
    error?: string;
}

export function report(stack: string, at: number, outcome: { rows: Row[] } | { error: string }): Report {
    const checkedAt = new Date(at).toISOString();
    if ("error" in outcome) return { stack, checkedAt, ok: false, exitCode: EXIT.unreadable, rows: [], error: outcome.error };
    const code = exitCode(outcome.rows);
    return { stack, checkedAt, ok: code === EXIT.fresh, exitCode: code, rows: outcome.rows };
}

const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

/** Everything `verify` touches outside itself. */
export interface VerifyIo {
    out: (text: string) => void;
    err: (text: string) => void;
    /** Clears the screen before a watch redraw of the table; a no-op when stdout is not a terminal. */
    clear: () => void;
    connect: (opts: KubeOptions) => Lister;
    now: () => number;
    sleep: WatchOptions<unknown>["sleep"];
    /** Called when a watch starts: a signal that Ctrl-C or SIGTERM aborts (one check keeps the default signal handling). */
    stopSignal: () => AbortSignal;
}

/** The command: parses, reads the config and the cluster, prints, and returns the exit code. */
export async function verify(argv: string[], io: VerifyIo): Promise<number> {
    let args: VerifyArgs;
    try {
        args = parseArgs(argv);
    } catch (err) {
        io.err(`${(err as Error).message}\n${USAGE}\n`);
        return EXIT.usage;
    }
    if (args.help) {
        io.out(`${USAGE}\n`);
        return EXIT.fresh;
    }
    let cfg: Config;
    try {
        cfg = parseConfigMap(readStackConfig(args.configFile ?? stackFile(args.stack)).config);
    } catch (err) {
        io.err(`error: ${(err as Error).message}\n`);
        return EXIT.unreadable;
    }
    let kube: Lister;
    try {
        kube = io.connect({ kubeconfig: args.kubeconfig, context: args.context, requestTimeoutSeconds: REQUEST_TIMEOUT_SECONDS });
    } catch (err) {
        // A missing kubeconfig or context does not heal by waiting: fatal, also with --watch.
        io.err(`error: could not read the cluster: ${(err as Error).message}\n`);
        return EXIT.unreadable;
    }
    const check = async (now: number) => evaluate(cfg, await snapshot(kube, cfg), now);
    const show = (r: Refresh<Row[]>, header?: string) => print(io, args, r, header);
    const codeOf = (r: Refresh<Row[]> | undefined) => (r?.result ? exitCode(r.result) : EXIT.unreadable);
    try {
        if (args.watchSeconds === undefined) {
            const r = await checkOnce(check, io.now());
            show(r);
            return codeOf(r);
        }
        const every = args.watchSeconds;
        const last = await watch<Row[]>({
            intervalMs: every * 1000,
            check,
            show: (r) =>
                show(r, `verify --stack ${args.stack}, every ${every} s: checked ${stamp(r.at)}, next ${stamp(r.next)} (Ctrl-C stops)`),
            now: io.now,
            sleep: io.sleep,
            signal: io.stopSignal(),
        });
        // Stopped: the code of the last refresh, so a script that stops a watch still learns the state.
        return codeOf(last);
    } finally {
        kube.close();
    }
}

/** Prints one check: the table (redrawn under `header` in a watch) or a JSON document; a read failure also on stderr. */
function print(io: VerifyIo, args: VerifyArgs, r: Refresh<Row[]>, header?: string): void {
    const error = r.error && `could not read the cluster: ${r.error.message}`;
    if (args.output === "json") {
        const doc = report(args.stack, r.at, r.result ? { rows: r.result } : { error: error ?? "" });
        // One check: an indented document; a watch: one document per line (NDJSON), which `jq` and line readers follow.
        io.out(`${header === undefined ? JSON.stringify(doc, null, 2) : JSON.stringify(doc)}\n`);
    } else if (header !== undefined) {
        io.clear();
        io.out(`${header}\n\n${r.result ? `${table(r.result)}\n\n${summary(r.result)}` : `error: ${error}`}\n\n`);
    } else if (r.result) io.out(`${table(r.result)}\n\n${summary(r.result)}\n`);
    if (error !== undefined) io.err(`error: ${error}\n`);
}

/** One check at `at`, its failure caught as the refresh's error (as a watch records it). */
async function checkOnce(check: (now: number) => Promise<Row[]>, at: number): Promise<Refresh<Row[]>> {
    return check(at).then(
        (result) => ({ at, next: at, result }),
        (err: unknown) => ({ at, next: at, error: err instanceof Error ? err : new Error(String(err)) }),
    );
}

async function run(argv: string[]): Promise<number> {
    const abort = new AbortController();
    // A reader that went away (`| head -1`) ends a watch quietly instead of crashing on EPIPE.
    process.stdout.on("error", () => abort.abort());
    return verify(argv, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        clear: () => console.clear(),
        connect: (opts) => Kube.fromKubeconfig(opts),
        now: () => Date.now(),
        sleep,
        stopSignal: () => {
            for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => abort.abort());
            return abort.signal;
        },
    });
}

if (require.main === module) runCli(run);
