// `npm run verify -- --stack <name> [--json] [--kubeconfig <file>] [--context <name>] [--config-file <file>]`:
// reads the live cluster and prints one row per protected thing; exits 1 when anything is wrong.
import { parseConfigMap, type Config } from "../config";
import { evaluate, type Row, type Snapshot } from "./checks";
import { REPORT_LABEL } from "./drill-core";
import { apiPath, Kube, type KubeObject } from "./kube";
import { readStackConfig, stackFile } from "./stackfile";
import { runCli } from "./cli";

interface Args {
    stack: string;
    json: boolean;
    configFile?: string;
    kubeconfig?: string;
    context?: string;
}

function parseArgs(argv: string[]): Args {
    const out: Partial<Args> = { json: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--json") out.json = true;
        else if (a === "--stack") out.stack = argv[++i];
        else if (a === "--config-file") out.configFile = argv[++i];
        else if (a === "--kubeconfig") out.kubeconfig = argv[++i];
        else if (a === "--context") out.context = argv[++i];
        else throw new UsageError(`unknown argument ${a}`);
    }
    if (!out.stack) throw new UsageError("--stack is required");
    return out as Args;
}

class UsageError extends Error {}

/** Awaits every promise of a record, keeping the keys. */
async function allOf<T extends Record<string, Promise<unknown>>>(record: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
    const values = await Promise.all(Object.values(record));
    return Object.fromEntries(Object.keys(record).map((k, i) => [k, values[i]])) as { [K in keyof T]: Awaited<T[K]> };
}

/** Reads everything the checks look at, namespace by namespace. */
export async function snapshot(kube: Kube, cfg: Config): Promise<Snapshot> {
    const inEach = async (namespaces: string[], group: string, version: string, plural: string): Promise<KubeObject[]> =>
        (await Promise.all([...new Set(namespaces)].map((ns) => kube.list(apiPath(group, version, plural, ns))))).flat();
    const pg = cfg.postgres.map((db) => db.namespace);
    const vns = [cfg.velero.namespace];
    const drills = cfg.drills.enabled && cfg.drills.schedule !== undefined ? pg : [];
    const jobNamespaces = [
        ...cfg.mssql.map((db) => db.namespace),
        ...(cfg.platform === "baremetal" && cfg.offsite.enabled ? [cfg.offsite.namespace] : []),
        ...drills,
    ];
    return allOf({
        clusters: inEach(pg, "postgresql.cnpg.io", "v1", "clusters"),
        scheduledBackups: inEach(pg, "postgresql.cnpg.io", "v1", "scheduledbackups"),
        backups: inEach(pg, "postgresql.cnpg.io", "v1", "backups"),
        objectStores: cfg.cnpg.method === "plugin" ? inEach(pg, "barmancloud.cnpg.io", "v1", "objectstores") : Promise.resolve([]),
        cronJobs: inEach(jobNamespaces, "batch", "v1", "cronjobs"),
        drillReports: (async (): Promise<KubeObject[]> => {
            const selector = `?labelSelector=${encodeURIComponent(REPORT_LABEL)}`;
            return (
                await Promise.all([...new Set(drills)].map((ns) => kube.list(`${apiPath("", "v1", "configmaps", ns)}${selector}`)))
            ).flat();
        })(),
        veleroLocations: inEach(vns, "velero.io", "v1", "backupstoragelocations"),
        veleroSchedules: inEach(vns, "velero.io", "v1", "schedules"),
        veleroBackups: inEach(vns, "velero.io", "v1", "backups"),
        pvcs: kube.list(apiPath("", "v1", "persistentvolumeclaims")),
    });
}

/** The human table. */
export function table(rows: Row[]): string {
    const header = ["KIND", "NAME", "STATUS", "DETAIL"];
    const cells = rows.map((r) => [r.kind, r.name, r.status, r.detail]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]))).join("  ");
    return [line(header), ...cells.map(line)].join("\n");
}

async function run(argv: string[]): Promise<number> {
    let args: Args;
    try {
        args = parseArgs(argv);
    } catch (err) {
        process.stderr.write(
            `${(err as Error).message}\nusage: npm run verify -- --stack <name> [--json] [--kubeconfig <file>] [--context <name>] [--config-file <file>]\n`,
        );
        return 64;
    }
    let cfg: Config;
    try {
        cfg = parseConfigMap(readStackConfig(args.configFile ?? stackFile(args.stack)).config);
    } catch (err) {
        process.stderr.write(`error: ${(err as Error).message}\n`);
        return 2;
    }
    const kube = Kube.fromKubeconfig({ kubeconfig: args.kubeconfig, context: args.context });
    try {
        const now = Date.now();
        const rows = evaluate(cfg, await snapshot(kube, cfg), now);
        const ok = rows.every((r) => r.status !== "FAIL");
        if (args.json)
            process.stdout.write(`${JSON.stringify({ stack: args.stack, checkedAt: new Date(now).toISOString(), ok, rows }, null, 2)}\n`);
        else
            process.stdout.write(
                `${table(rows)}\n\n${ok ? "all backups verified" : `${rows.filter((r) => r.status === "FAIL").length} problem(s) found`}\n`,
            );
        return ok ? 0 : 1;
    } finally {
        kube.close();
    }
}

if (require.main === module) runCli(run);
