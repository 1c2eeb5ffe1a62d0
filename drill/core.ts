// A restore drill, independent of how it talks to the cluster: create a temporary recovery Cluster
// from a database's backups, wait until it is healthy (or failing, or out of time), run a read-only
// check query against it, report how long recovery took and to which point, and delete what the
// drill created whatever happened. The command line (cli/drill.ts) and the in-cluster runner
// (drill/job.ts) both run this; tests run it against a fake client or a real API server.
import type { KubeObject } from "../kube/client";
import {
    DRILL_LABEL,
    drillCheckJobName,
    drillClusterName,
    drillReportName,
    drillTemplateName,
    recoveryJobName,
    RUN_ANNOTATION,
} from "../core/names";
import { DrillReport, DrillTemplate } from "../core/drill";
import {
    checkJob,
    clusterState,
    drillCluster,
    DrillError,
    jobState,
    meta,
    reportConfigMap,
    spec,
    status,
    str,
    type Obj,
} from "./manifests";

/** The API calls a drill makes. `Kube` satisfies it; tests pass fakes. */
export interface DrillClient {
    /** The object, or undefined when it does not exist. */
    get(path: string): Promise<KubeObject | undefined>;
    /** POST to a collection; rejects when the object exists. */
    create(path: string, obj: KubeObject): Promise<KubeObject | undefined>;
    /** Deletes; an absent object is not an error. */
    delete(path: string, options?: { propagationPolicy?: "Background" | "Foreground" | "Orphan" }): Promise<KubeObject | undefined>;
    /** Server-side apply as `manager`. */
    apply(path: string, obj: KubeObject, manager: string): Promise<KubeObject | undefined>;
}

/** Field manager of the report ConfigMap. */
export const FIELD_MANAGER = "backup-platform-drill";

export const paths = {
    clusters: (ns: string) => `/apis/postgresql.cnpg.io/v1/namespaces/${ns}/clusters`,
    cluster: (ns: string, name: string) => `/apis/postgresql.cnpg.io/v1/namespaces/${ns}/clusters/${name}`,
    objectStore: (ns: string, name: string) => `/apis/barmancloud.cnpg.io/v1/namespaces/${ns}/objectstores/${name}`,
    jobs: (ns: string) => `/apis/batch/v1/namespaces/${ns}/jobs`,
    job: (ns: string, name: string) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
    configMap: (ns: string, name: string) => `/api/v1/namespaces/${ns}/configmaps/${name}`,
};

// ---- options and report ------------------------------------------------------------------------

export interface DrillOptions {
    namespace: string;
    database: string;
    /** Recovery target, RFC 3339 with a zone; default the end of the archived WAL. */
    targetTime?: string;
    /** Seconds the drill cluster may take to become healthy. */
    timeoutSeconds: number;
    /** Seconds the check Job may take. Default 300. */
    checkTimeoutSeconds?: number;
    /** Milliseconds between polls. Default 5000. */
    pollMs?: number;
    /** psql image for the check; default the recovered cluster's own image (status.image). */
    checkImage?: string;
    /** An existing drill cluster older than this is a leftover of a crashed run and is replaced. Default 2 x timeout. */
    staleAfterSeconds?: number;
    /** Aborts waiting (Ctrl-C, SIGTERM); cleanup still runs. */
    signal?: AbortSignal;
    /** Progress lines. */
    log?: (line: string) => void;
    /** Clock and sleep, replaceable in tests. */
    now?: () => number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    /** Identifies this run's objects. Default random. */
    runId?: string;
}

// ---- the drill ---------------------------------------------------------------------------------

/**
 * Waits `ms`, or less when `signal` aborts. The abort listener goes when the wait ends: a drill polls every few
 * seconds for up to its timeout, and listeners left behind piled up on the one signal (Node.js warned of a leak on
 * the real runner after ten polls).
 */
export const sleepUnlessAborted = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
        const done = () => {
            clearTimeout(t);
            signal?.removeEventListener("abort", done);
            resolve();
        };
        const t = setTimeout(done, ms);
        signal?.addEventListener("abort", done, { once: true });
    });

/** A clock reading as an ISO 8601 UTC timestamp. */
const iso = (ms: number) => new Date(ms).toISOString();

/** One run: its client, its options with their defaults applied, and the report its steps fill in. */
interface Run {
    readonly client: DrillClient;
    readonly opts: DrillOptions;
    readonly ns: string;
    readonly db: string;
    /** The drill cluster's name. */
    readonly name: string;
    readonly runId: string;
    readonly report: DrillReport;
    readonly now: () => number;
    readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
    readonly pollMs: number;
    readonly log: (line: string) => void;
}

/** Applies the options' defaults and starts the report (nothing done yet, nothing passed). */
function startRun(client: DrillClient, opts: DrillOptions): Run {
    const now = opts.now ?? Date.now;
    const sleep = opts.sleep ?? sleepUnlessAborted;
    const pollMs = opts.pollMs ?? 5000;
    const log = opts.log ?? (() => undefined);
    const ns = opts.namespace;
    const db = opts.database;
    const name = drillClusterName(db);
    const runId = opts.runId ?? Math.random().toString(36).slice(2, 10);
    const report: DrillReport = {
        ok: false,
        database: db,
        namespace: ns,
        cluster: name,
        method: null,
        runId,
        startedAt: iso(now()),
        finishedAt: null,
        healthyAt: null,
        timeToRecoverSeconds: null,
        recoveredPoint: { target: opts.targetTime ?? "latest", timeline: null, firstRecoverabilityPoint: null, lastSuccessfulBackup: null },
        phase: null,
        check: null,
        cleanup: { deleted: [], errors: [] },
        error: null,
    };
    return { client, opts, ns, db, name, runId, report, now, sleep, pollMs, log };
}

/** Polls `probe` until it returns a value or the deadline passes. */
async function until<T>(run: Run, deadline: number, probe: () => Promise<T | undefined>, late: () => string): Promise<T> {
    for (;;) {
        if (run.opts.signal?.aborted) throw new DrillError("interrupted");
        const value = await probe();
        if (value !== undefined) return value;
        if (run.now() >= deadline) throw new DrillError(late());
        await run.sleep(Math.min(run.pollMs, Math.max(0, deadline - run.now())), run.opts.signal);
    }
}

/** Waits (two minutes at most) until a deleted object is gone. */
function gone(run: Run, path: string, what: string): Promise<true> {
    return until(
        run,
        run.now() + 120_000,
        async () => ((await run.client.get(path)) === undefined ? true : undefined),
        () => `${what} still exists two minutes after its deletion`,
    );
}

/** Runs one drill. Never throws for a drill failure: the report says what happened, `ok` whether it passed. */
export async function runDrill(client: DrillClient, opts: DrillOptions): Promise<DrillReport> {
    const run = startRun(client, opts);
    const report = run.report;
    try {
        const { template, source } = await readTemplateAndSource(run);
        const manifest = drillCluster(template, source, {
            namespace: run.ns,
            targetTime: opts.targetTime,
            runId: run.runId,
            startedAt: report.startedAt,
        });
        await replaceLeftover(run);
        const healthy = await recover(run, template, manifest);
        await runCheck(run, healthy);
        report.ok = true;
    } catch (err) {
        report.error = err instanceof DrillError ? err.message : `${err instanceof Error ? err.message : String(err)}`;
        run.log(`drill failed: ${report.error}`);
    } finally {
        await cleanup(client, run.ns, run.db, run.runId, report, run.log);
        report.finishedAt = iso(run.now());
    }
    report.ok = report.ok && report.cleanup.errors.length === 0;
    return report;
}

/** Exit codes of the in-cluster runner (drill/job.ts); 3 is an error before any drill (its configuration). */
export const EXIT = { passed: 0, failed: 1, noReport: 4 } as const;

/**
 * The in-cluster runner's work: one drill, then its report in ConfigMap `<database>-drill-report`. A report that
 * cannot be written fails the run (EXIT.noReport) even when the drill passed: without it `npm run verify` shows the
 * CronJob's success and nothing of the drill, so a Role that denies the write must fail the Job at its first run.
 */
export async function runAndReport(client: DrillClient, opts: DrillOptions): Promise<{ report: DrillReport; code: number }> {
    const report = await runDrill(client, opts);
    const log = opts.log ?? (() => undefined);
    try {
        await client.apply(paths.configMap(opts.namespace, drillReportName(opts.database)), reportConfigMap(report), FIELD_MANAGER);
    } catch (err) {
        log(`could not write the report ConfigMap: ${err instanceof Error ? err.message : String(err)}`);
        return { report, code: EXIT.noReport };
    }
    return { report, code: report.ok ? EXIT.passed : EXIT.failed };
}

/** Reads the program's drill template and the live source cluster; records the source's archive window. */
async function readTemplateAndSource(run: Run): Promise<{ template: DrillTemplate; source: KubeObject }> {
    const { client, ns, db, report } = run;
    const templateCm = await client.get(paths.configMap(ns, drillTemplateName(db)));
    const raw = (templateCm?.data as Record<string, string> | undefined)?.["template.json"];
    if (raw === undefined) {
        throw new DrillError(
            `ConfigMap ${ns}/${drillTemplateName(db)} not found: enable backup:drills and run pulumi up, which deploys the drill template`,
        );
    }
    const template = JSON.parse(raw) as DrillTemplate;
    report.method = template.method;
    const source = await client.get(paths.cluster(ns, db));
    if (source === undefined) throw new DrillError(`source cluster ${ns}/${db} not found`);
    const store = template.method === "plugin" ? await client.get(paths.objectStore(ns, `${db}-backup`)).catch(() => undefined) : undefined;
    const window = ((status(store).serverRecoveryWindow as Record<string, Obj> | undefined) ?? {})[db] ?? {};
    report.recoveredPoint.firstRecoverabilityPoint = str(window.firstRecoverabilityPoint) ?? str(status(source).firstRecoverabilityPoint);
    report.recoveredPoint.lastSuccessfulBackup = str(window.lastSuccessfulBackupTime) ?? str(status(source).lastSuccessfulBackup);
    return { template, source };
}

/** Deletes the drill cluster a crashed run left; refuses when a drill is running or the cluster is not a drill's. */
async function replaceLeftover(run: Run): Promise<void> {
    const { client, opts, ns, db, name, now, log } = run;
    const existing = await client.get(paths.cluster(ns, name));
    if (existing !== undefined) {
        const created = Date.parse(meta(existing).creationTimestamp ?? "");
        const stale = opts.staleAfterSeconds ?? 2 * opts.timeoutSeconds;
        if (meta(existing).labels?.[DRILL_LABEL] !== db)
            throw new DrillError(`cluster ${ns}/${name} exists and is not a drill cluster; refusing to touch it`);
        if (meta(existing).deletionTimestamp === undefined && !(now() - created >= stale * 1000)) {
            throw new DrillError(
                `a drill of ${db} is already running: cluster ${ns}/${name} exists since ${meta(existing).creationTimestamp ?? "?"}`,
            );
        }
        log(`removing the leftover drill cluster ${ns}/${name} (created ${meta(existing).creationTimestamp ?? "?"})`);
        await client.delete(paths.cluster(ns, name));
        await gone(run, paths.cluster(ns, name), `cluster ${ns}/${name}`);
    }
}

/** Creates the drill cluster and waits until it is healthy; records how long that took and the timeline reached. */
async function recover(run: Run, template: DrillTemplate, manifest: KubeObject): Promise<KubeObject> {
    const { client, opts, ns, name, report, now, log } = run;
    log(`creating drill cluster ${ns}/${name} from the ${template.method} archive of ${run.db} (target: ${report.recoveredPoint.target})`);
    const createdAt = now();
    await client.create(paths.clusters(ns), manifest);

    const healthy = await until(
        run,
        createdAt + opts.timeoutSeconds * 1000,
        async () => {
            const cluster = await client.get(paths.cluster(ns, name));
            if (cluster === undefined) throw new DrillError(`drill cluster ${ns}/${name} disappeared`);
            const state = clusterState(cluster);
            if (state.detail !== report.phase) log(`phase: ${state.detail}`);
            report.phase = state.detail;
            if (state.state === "failed") throw new DrillError(`recovery failed: ${state.detail}`);
            const recovery = await client.get(paths.job(ns, recoveryJobName(name)));
            if (recovery !== undefined && jobState(recovery).state === "failed") {
                throw new DrillError(`recovery job ${recoveryJobName(name)} failed: ${jobState(recovery).detail}`);
            }
            return state.state === "healthy" ? cluster : undefined;
        },
        () => `not healthy within ${opts.timeoutSeconds} s; last phase: ${report.phase ?? "none"}`,
    );
    report.healthyAt = iso(now());
    report.timeToRecoverSeconds = Math.round((now() - createdAt) / 1000);
    report.recoveredPoint.timeline = typeof status(healthy).timelineID === "number" ? (status(healthy).timelineID as number) : null;
    log(`healthy after ${report.timeToRecoverSeconds} s`);
    return healthy;
}

/** Runs the check query in a Job against the healthy drill cluster; records its outcome and throws when it failed. */
async function runCheck(run: Run, healthy: KubeObject): Promise<void> {
    const { client, opts, ns, db, runId, report, now, log } = run;
    const image = opts.checkImage ?? str(status(healthy).image) ?? str(spec(healthy).imageName);
    if (image === null)
        throw new DrillError("no image for the check query: the cluster reports none; pass --check-image or set backup:drills.checkImage");
    const checkName = drillCheckJobName(db);
    report.check = { job: checkName, image, passed: false, detail: "not started" };
    if ((await client.get(paths.job(ns, checkName))) !== undefined) {
        // Only one drill of a database runs at a time (the cluster name is fixed): this is a leftover.
        await client.delete(paths.job(ns, checkName), { propagationPolicy: "Background" });
        await gone(run, paths.job(ns, checkName), `job ${ns}/${checkName}`);
    }
    log(`running the check query (job ${checkName})`);
    await client.create(paths.jobs(ns), checkJob(db, ns, image, { uid: meta(healthy).uid }, runId));
    const outcome = await until(
        run,
        now() + (opts.checkTimeoutSeconds ?? 300) * 1000,
        async () => {
            const job = await client.get(paths.job(ns, checkName));
            if (job === undefined) throw new DrillError(`check job ${ns}/${checkName} disappeared`);
            const state = jobState(job);
            return state.state === "running" ? undefined : state;
        },
        () => `check job ${checkName} did not finish within ${opts.checkTimeoutSeconds ?? 300} s`,
    );
    report.check = { ...report.check, passed: outcome.state === "complete", detail: outcome.detail };
    if (outcome.state !== "complete") throw new DrillError(`check query failed: ${outcome.detail}`);
}

/** Deletes what this run created (proved by the run annotation), whatever happened before. */
async function cleanup(
    client: DrillClient,
    ns: string,
    db: string,
    runId: string,
    report: DrillReport,
    log: (line: string) => void,
): Promise<void> {
    const targets: [string, string, "Background" | undefined][] = [
        [paths.job(ns, drillCheckJobName(db)), `job/${drillCheckJobName(db)}`, "Background"],
        [paths.cluster(ns, drillClusterName(db)), `cluster/${drillClusterName(db)}`, undefined],
    ];
    for (const [path, what, propagationPolicy] of targets) {
        try {
            const obj = await client.get(path);
            if (obj === undefined || meta(obj).annotations?.[RUN_ANNOTATION] !== runId) continue;
            await client.delete(path, propagationPolicy ? { propagationPolicy } : undefined);
            report.cleanup.deleted.push(what);
            log(`deleted ${what}`);
        } catch (err) {
            report.cleanup.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
    }
}
