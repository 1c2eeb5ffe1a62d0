// `npm run drill -- --stack <name> --database <name> [--target-time <RFC 3339>] [--json] [--timeout <s>]
//   [--check-image <image>] [--kubeconfig <file>] [--context <name>] [--config-file <file>]`:
// a restore drill from the command line. Creates a temporary recovery cluster from the database's
// backups, waits until it is healthy, runs a read-only check query, reports time to recover and
// the recovered point, and deletes the temporary cluster whatever happened. Exits 0 when the drill
// passed, 1 when it failed, 2 on a configuration problem, 64 on a usage error.
import { parseConfigMap, type Config } from "../config";
import { runDrill } from "../drill/core";
import { summary } from "../drill/manifests";
import { Kube } from "../kube/client";
import { readStackConfig, stackFile } from "./stackfile";
import { runCli } from "./run";

export interface DrillArgs {
    stack: string;
    database: string;
    targetTime?: string;
    json: boolean;
    timeoutSeconds?: number;
    checkImage?: string;
    configFile?: string;
    kubeconfig?: string;
    context?: string;
}

export class UsageError extends Error {}

const USAGE =
    "usage: npm run drill -- --stack <name> --database <name> [--target-time <RFC 3339>] [--json] [--timeout <seconds>] [--check-image <image>] [--kubeconfig <file>] [--context <name>] [--config-file <file>]";

/** Parses the command line (pure, for tests). */
export function parseArgs(argv: string[]): DrillArgs {
    const out: Partial<DrillArgs> = { json: false };
    const value = (i: number, flag: string): string => {
        const v = argv[i];
        if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
        return v;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--json") out.json = true;
        else if (a === "--stack") out.stack = value(++i, a);
        else if (a === "--database") out.database = value(++i, a);
        else if (a === "--target-time") out.targetTime = value(++i, a);
        else if (a === "--check-image") out.checkImage = value(++i, a);
        else if (a === "--config-file") out.configFile = value(++i, a);
        else if (a === "--kubeconfig") out.kubeconfig = value(++i, a);
        else if (a === "--context") out.context = value(++i, a);
        else if (a === "--timeout") {
            const t = Number(value(++i, a));
            if (!Number.isInteger(t) || t <= 0) throw new UsageError("--timeout must be a whole number of seconds");
            out.timeoutSeconds = t;
        } else throw new UsageError(`unknown argument ${a}`);
    }
    if (!out.stack) throw new UsageError("--stack is required");
    if (!out.database) throw new UsageError("--database is required");
    if (out.targetTime !== undefined) {
        const t = out.targetTime;
        if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(t) || Number.isNaN(Date.parse(t)))
            throw new UsageError(`--target-time "${t}" must be an RFC 3339 time with a zone, like 2026-02-17T12:00:00Z`);
        if (Date.parse(t) > Date.now()) throw new UsageError(`--target-time "${t}" is in the future`);
    }
    return out as DrillArgs;
}

/** The database's namespace and the drill settings from the stack's config; throws with a message naming the key. */
export function drillTarget(cfg: Config, database: string): { namespace: string } {
    const db = cfg.postgres.find((d) => d.name === database);
    if (db === undefined) throw new Error(`${database} is not in backup:postgres; allowed: ${cfg.postgres.map((d) => d.name).join(", ")}`);
    if (!cfg.drills.enabled) {
        throw new Error(
            "backup:drills.enabled is false: the drill uses the template `pulumi up` deploys with it; enable drills and run pulumi up",
        );
    }
    return { namespace: db.namespace };
}

async function run(argv: string[]): Promise<number> {
    let args: DrillArgs;
    try {
        args = parseArgs(argv);
    } catch (err) {
        process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
        return 64;
    }
    let cfg: Config;
    let namespace: string;
    try {
        cfg = parseConfigMap(readStackConfig(args.configFile ?? stackFile(args.stack)).config);
        ({ namespace } = drillTarget(cfg, args.database));
    } catch (err) {
        process.stderr.write(`error: ${(err as Error).message}\n`);
        return 2;
    }
    const kube = Kube.fromKubeconfig({ kubeconfig: args.kubeconfig, context: args.context });
    const abort = new AbortController();
    // Ctrl-C stops waiting; the temporary cluster is still deleted.
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => abort.abort());
    try {
        const report = await runDrill(kube, {
            namespace,
            database: args.database,
            targetTime: args.targetTime,
            timeoutSeconds: args.timeoutSeconds ?? cfg.drills.timeoutMinutes * 60,
            checkImage: args.checkImage ?? cfg.drills.checkImage,
            signal: abort.signal,
            log: args.json ? undefined : (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(args.json ? `${JSON.stringify({ stack: args.stack, ...report }, null, 2)}\n` : `${summary(report)}\n`);
        return report.ok ? 0 : 1;
    } finally {
        kube.close();
    }
}

if (require.main === module) runCli(run);
