import * as assert from "assert";
import { spawnSync } from "child_process";
import { getEventListeners } from "events";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RUNBOOK_ANCHORS, type AlertRule } from "../components/alerts";
import { runnerCode } from "../components/drills";
import { parseConfig } from "../config";
import { EXIT, paths, runAndReport, runDrill, sleepUnlessAborted } from "../drill/core";
import { checkJob, clusterState, drillCluster, jobState, summary, CHECK_SQL, DrillError, HEALTHY_PHASE } from "../drill/manifests";
import { drillTarget, parseArgs, UsageError } from "../cli/drill";
import { type KubeObject } from "../kube/client";
import { drillScenarios, sourceCluster, template, DATABASE, SOURCE_IMAGE } from "./drill-scenarios";
import { FakeKube } from "./fakekube";
import { crdValidator, owned, render, stackConfig, type Raw, type Rendered } from "./harness";
import { type DrillTemplate } from "../core/drill";

type Obj = Record<string, unknown>;
const T = {
    cm: "kubernetes:core/v1:ConfigMap",
    cronJob: "kubernetes:batch/v1:CronJob",
    sa: "kubernetes:core/v1:ServiceAccount",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    binding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    cluster: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    store: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
    iamPolicy: "aws:iam/policy:Policy",
    iamRole: "aws:iam/role:Role",
    rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
};
const validCluster = crdValidator("cnpg-1.30.0_postgresql.cnpg.io_clusters.yaml");
const validateRule = crdValidator("prometheus-operator-0.82.2_monitoring.coreos.com_prometheusrules.yaml");
const drills =
    (extra: Raw = {}) =>
    (raw: Raw) =>
        (raw.drills = { enabled: true, schedule: "0 5 * * 0", ...extra });
/** CNPG and the check Job as a fake drill's sleep sees them: the drill Cluster healthy once `healthy`, the check done. */
async function cnpgAndCheck(kube: FakeKube, healthy: boolean): Promise<void> {
    if (healthy)
        await kube.setStatus(paths.cluster("ns", "drill-src-drill"), { phase: HEALTHY_PHASE, readyInstances: 1, image: SOURCE_IMAGE });
    const job = paths.job("ns", "drill-src-drill-check");
    if ((await kube.get(job)) !== undefined) await kube.setStatus(job, { succeeded: 1 });
}
const templateOf = (r: Rendered, db: string) =>
    JSON.parse((r.get(T.cm, `drills-${db}-template`).inputs.data as Record<string, string>)["template.json"]) as DrillTemplate;
const podSpec = (cronJob: { inputs: Obj }) =>
    ((((cronJob.inputs.spec as Obj).jobTemplate as Obj).spec as Obj).template as Obj).spec as {
        serviceAccountName: string;
        securityContext: Obj;
        containers: { image: string; command: string[]; env: { name: string; value?: string }[]; securityContext: Obj; resources: Obj }[];
        volumes: Obj[];
    };

drillScenarios("restore drill scenarios (in-memory API)", () => {
    const kube = new FakeKube();
    return Promise.resolve({ client: kube, namespace: "rciis-prod", setStatus: (p, s) => kube.setStatus(p, s), reset: () => kube.reset() });
});

describe("restore drill logic", () => {
    const opts = { namespace: "rciis-prod", runId: "run1", startedAt: "2026-11-21T12:00:00Z" };

    it("completes the template from the live source into a Cluster the CNPG CRD accepts", () => {
        const c = drillCluster(template(), sourceCluster("rciis-prod"), { ...opts, targetTime: "2026-11-20T00:00:00Z" });
        assert.ok(validCluster(c), JSON.stringify(validCluster.errors));
        assert.deepStrictEqual(c.metadata, {
            name: "drill-src-drill",
            namespace: "rciis-prod",
            labels: { "app.kubernetes.io/part-of": "backup-platform", "backup.platform/drill-of": DATABASE },
            annotations: { "backup.platform/drill-run": "run1", "backup.platform/drill-started": "2026-11-21T12:00:00Z" },
        });
        const catalog = sourceCluster("rciis-prod");
        const s = catalog.spec as Obj;
        delete s.imageName;
        s.imageCatalogRef = { apiGroup: "postgresql.cnpg.io", kind: "ImageCatalog", name: "postgresql-17", major: 17 };
        assert.deepStrictEqual((drillCluster(template(), catalog, opts).spec as Obj).imageCatalogRef, s.imageCatalogRef);
        delete s.imageCatalogRef;
        // The operator's default image: CNPG's status says which one runs, and the drill pins it.
        catalog.status = { ...(catalog.status as Obj | undefined), image: "ghcr.io/cloudnative-pg/postgresql:17.2" };
        assert.strictEqual((drillCluster(template(), catalog, opts).spec as Obj).imageName, "ghcr.io/cloudnative-pg/postgresql:17.2");
        delete (catalog.status as Obj).image;
        assert.throws(() => drillCluster(template(), catalog, opts), /names no imageName or imageCatalogRef and reports no status\.image/);
    });

    it("reads CNPG's phase: healthy only with ready instances, failed on the phases that need a human", () => {
        const c = (status: Obj): KubeObject => ({ spec: { instances: 1 }, status });
        assert.strictEqual(clusterState(c({ phase: HEALTHY_PHASE, readyInstances: 1 })).state, "healthy");
        assert.strictEqual(clusterState(c({ phase: HEALTHY_PHASE, readyInstances: 0 })).state, "pending");
        assert.strictEqual(clusterState(c({ phase: "Setting up primary" })).state, "pending");
        assert.strictEqual(clusterState(c({})).detail, "no phase yet");
        for (const phase of [
            "Cluster is unrecoverable and needs manual intervention",
            "Unable to create required cluster objects",
            "Cluster cannot proceed to reconciliation due to an unknown plugin being required",
            "Not enough disk space",
        ])
            assert.strictEqual(clusterState(c({ phase })).state, "failed", phase);
        assert.deepStrictEqual(jobState({ status: { conditions: [{ type: "Failed", status: "True", message: "boom" }] } }), {
            state: "failed",
            detail: "boom",
        });
        assert.strictEqual(jobState({ status: { succeeded: 1 } }).state, "complete");
        assert.strictEqual(jobState({ status: { active: 1 } }).state, "running");
    });

    it("checks read-only through the -r service with a client certificate: no secret in the Job, only the CA certificate mounted", () => {
        const job = checkJob(DATABASE, "rciis-prod", SOURCE_IMAGE, { uid: "u1" }, "run1");
        const pod = ((job.spec as Obj).template as Obj).spec as {
            securityContext: Obj;
            containers: { args: string[]; env: { name: string; value: string; valueFrom?: unknown }[]; securityContext: Obj }[];
            volumes: { name: string; secret?: { secretName: string; items?: unknown } }[];
        };
        const [c] = pod.containers;
        const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
        assert.strictEqual(env.PGHOST, "drill-src-drill-r");
        assert.strictEqual(env.PGUSER, "streaming_replica");
        assert.strictEqual(env.PGSSLMODE, "verify-ca");
        assert.strictEqual(env.PGOPTIONS, "-c default_transaction_read_only=on");
        assert.ok(
            c.env.every((e) => e.valueFrom === undefined),
            "no password: certificate authentication",
        );
        assert.deepStrictEqual(c.args.slice(0, 5), ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]);
        assert.ok(CHECK_SQL.every((q) => c.args.includes(q)));
        assert.deepStrictEqual(
            pod.volumes.filter((v) => v.secret).map((v) => [v.secret?.secretName, v.secret?.items]),
            [
                ["drill-src-drill-ca", [{ key: "ca.crt", path: "ca.crt" }]],
                ["drill-src-drill-replication", undefined],
            ],
        );
        assert.strictEqual(pod.securityContext.runAsNonRoot, true);
        assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
        assert.deepStrictEqual((job.metadata as Obj).ownerReferences, [
            { apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", name: "drill-src-drill", uid: "u1" },
        ]);
    });

    it("reports a cleanup that failed as a failed drill", async () => {
        const kube = new FakeKube();
        await kube.create(paths.clusters("ns"), sourceCluster("ns"));
        await kube.create("/api/v1/namespaces/ns/configmaps", {
            metadata: { name: "drill-src-drill-template" },
            data: { "template.json": JSON.stringify(template()) },
        });
        kube.failDeletes.add(paths.cluster("ns", "drill-src-drill"));
        const report = await runDrill(kube, { namespace: "ns", database: DATABASE, timeoutSeconds: 0.05, pollMs: 5 });
        assert.strictEqual(report.ok, false);
        assert.deepStrictEqual(report.cleanup, {
            deleted: [],
            errors: [
                "cluster/drill-src-drill: DELETE /apis/postgresql.cnpg.io/v1/namespaces/ns/clusters/drill-src-drill: 500 etcd timeout",
            ],
        });
        assert.match(summary(report), /^FAILED: restore drill of ns\/drill-src[\s\S]*cleanup: {10}FAILED: cluster\/drill-src-drill/);
    });

    it("uses an injected clock: time to recover is the clock's, not the wall's", async () => {
        const kube = new FakeKube();
        let t = Date.parse("2026-11-21T12:00:00Z");
        await kube.create(paths.clusters("ns"), sourceCluster("ns"));
        await kube.create("/api/v1/namespaces/ns/configmaps", {
            metadata: { name: "drill-src-drill-template" },
            data: { "template.json": JSON.stringify(template()) },
        });
        let polls = 0;
        const report = await runDrill(kube, {
            namespace: "ns",
            database: DATABASE,
            timeoutSeconds: 3600,
            now: () => t,
            // Each poll is a minute; CNPG is healthy after ten, the check completes at once.
            sleep: async () => {
                t += 60_000;
                await cnpgAndCheck(kube, ++polls === 10);
            },
        });
        assert.strictEqual(report.error, null);
        assert.strictEqual(report.timeToRecoverSeconds, 600);
        assert.strictEqual(report.startedAt, "2026-11-21T12:00:00.000Z");
    });

    it("the runner writes its report, and fails when it cannot, even after a drill that passed", async () => {
        const run = async (reportRefused: boolean) => {
            const kube = new FakeKube();
            await kube.create(paths.clusters("ns"), sourceCluster("ns"));
            await kube.create("/api/v1/namespaces/ns/configmaps", {
                metadata: { name: "drill-src-drill-template" },
                data: { "template.json": JSON.stringify(template()) },
            });
            const report = paths.configMap("ns", "drill-src-drill-report");
            if (reportRefused) kube.failApplies.add(report);
            const lines: string[] = [];
            const res = await runAndReport(kube, {
                namespace: "ns",
                database: DATABASE,
                timeoutSeconds: 3600,
                log: (l) => lines.push(l),
                // CNPG is healthy at the first poll, the check completes at once.
                sleep: () => cnpgAndCheck(kube, true),
            });
            assert.strictEqual(res.report.ok, true, res.report.error ?? "");
            return { ...res, written: (await kube.get(report))?.data as Record<string, string> | undefined, lines };
        };
        const ok = await run(false);
        assert.strictEqual(ok.code, EXIT.passed);
        assert.strictEqual((JSON.parse(ok.written?.["report.json"] ?? "{}") as { runId?: string }).runId, ok.report.runId);
        const refused = await run(true);
        assert.strictEqual(refused.code, EXIT.noReport);
        assert.ok(
            refused.lines.some((l) => /could not write the report ConfigMap: .*403/.test(l)),
            refused.lines.join("\n"),
        );
    });

    it("waits between polls without leaving a listener on the abort signal each time, and stops waiting on abort", async () => {
        const abort = new AbortController();
        for (let i = 0; i < 20; i++) await sleepUnlessAborted(1, abort.signal);
        assert.strictEqual(getEventListeners(abort.signal, "abort").length, 0);
        const t0 = Date.now();
        const waiting = sleepUnlessAborted(60_000, abort.signal);
        abort.abort();
        await waiting;
        assert.ok(Date.now() - t0 < 1000);
        assert.strictEqual(getEventListeners(abort.signal, "abort").length, 0);
    });

    it("DrillError carries the step's reason", () => {
        assert.ok(new DrillError("x") instanceof Error);
    });
});

describe("npm run drill (command line)", () => {
    it("parses its arguments and refuses bad ones", () => {
        assert.deepStrictEqual(parseArgs(["--stack", "baremetal", "--database", "esb-postgres", "--json", "--timeout", "900"]), {
            stack: "baremetal",
            database: "esb-postgres",
            json: true,
            timeoutSeconds: 900,
        });
        assert.strictEqual(
            parseArgs(["--stack", "s", "--database", "d", "--target-time", "2026-02-17T12:00:00+02:00"]).targetTime,
            "2026-02-17T12:00:00+02:00",
        );
        for (const [argv, message] of [
            [["--database", "d"], /--stack is required/],
            [["--stack", "s"], /--database is required/],
            [["--stack", "s", "--database", "d", "--target-time", "2026-02-17 12:00"], /RFC 3339 time with a zone/],
            [["--stack", "s", "--database", "d", "--target-time", "2999-01-01T00:00:00Z"], /in the future/],
            [["--stack", "s", "--database", "d", "--timeout", "soon"], /whole number of seconds/],
            [["--stack", "--database", "d"], /--stack needs a value/],
            [["--stack", "s", "--database", "d", "--force"], /unknown argument --force/],
        ] as [string[], RegExp][])
            assert.throws(
                () => parseArgs(argv),
                (err: unknown) => err instanceof UsageError && message.test(err.message),
            );
    });

    it("finds the database's namespace in the stack, and needs drills enabled (their template)", () => {
        const cfg = parseConfig({ ...stackConfig("baremetal"), drills: { enabled: true } });
        assert.deepStrictEqual(drillTarget(cfg, "grafana-postgres"), { namespace: "monitoring" });
        assert.throws(() => drillTarget(cfg, "nope"), /nope is not in backup:postgres; allowed: esb-postgres/);
        assert.throws(() => drillTarget(parseConfig(stackConfig("baremetal")), "esb-postgres"), /backup:drills.enabled is false/);
    });

    it("exits 64 on a usage error and 2 on a configuration problem, before touching any cluster", () => {
        const script = path.join(__dirname, "..", "cli", "drill.js");
        const usage = spawnSync(process.execPath, [script, "--stack", "baremetal"], { encoding: "utf8" });
        assert.strictEqual(usage.status, 64);
        assert.match(usage.stderr, /usage: npm run drill -- --stack <name> --database <name>/);
        const off = spawnSync(
            process.execPath,
            [script, "--stack", "baremetal", "--database", "esb-postgres", "--kubeconfig", "/nonexistent"],
            {
                encoding: "utf8",
            },
        );
        assert.strictEqual(off.status, 2);
        assert.match(off.stderr, /backup:drills.enabled is false/);
    });

    it("the in-cluster runner is one file that loads without node_modules", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drill-runner-"));
        const code = runnerCode();
        assert.deepStrictEqual(Object.keys(code), ["runner.js"]);
        fs.writeFileSync(path.join(dir, "runner.js"), code["runner.js"]);
        const env = { PATH: process.env.PATH ?? "" };
        const bare = spawnSync(process.execPath, [path.join(dir, "runner.js")], { encoding: "utf8", env, cwd: dir });
        assert.strictEqual(bare.status, 3, bare.stderr);
        assert.match(bare.stderr, /DRILL_NAMESPACE is not set/);
        const outside = spawnSync(process.execPath, [path.join(dir, "runner.js")], {
            encoding: "utf8",
            cwd: dir,
            env: { ...env, DRILL_NAMESPACE: "ns", DRILL_DATABASE: "db", DRILL_TIMEOUT_SECONDS: "60" },
        });
        assert.match(outside.stderr, /not in a cluster: KUBERNETES_SERVICE_HOST is not set/);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});

describe("restore drill resources", () => {
    let bm: Rendered;
    before(async () => {
        bm = await render("baremetal", drills());
    });

    it("are off by default", async () => {
        const off = await render("baremetal");
        assert.ok(!off.resources.some((r) => r.name.startsWith("drills")));
        assert.strictEqual((off.outputs as Obj).drills, undefined);
    });

    it("deploy a template per database that restores exactly like a declared recovery, archiving nowhere", async () => {
        for (const method of ["plugin", "barmanObjectStore"]) {
            const r = await render("baremetal", (raw) => {
                drills()(raw);
                raw.cnpg = {
                    method,
                    recoveries: [
                        { from: "esb-postgres", name: "esb-postgres-recovered", imageCatalog: { name: "postgresql-17", major: 17 } },
                    ],
                };
            });
            const t = templateOf(r, "esb-postgres");
            assert.strictEqual(t.method, method);
            const declared = r.get(T.cluster, "cnpg-esb-postgres-recovered-recovery").inputs.spec as Obj;
            if (method === "plugin") {
                // Each reading cluster has its own read-only ObjectStore (it carries the keys); the same archive and keys.
                const storeOf = (spec: Obj) =>
                    (spec.externalClusters as { plugin: { parameters: { barmanObjectName: string } } }[])[0].plugin.parameters
                        .barmanObjectName;
                assert.strictEqual(storeOf(t.spec), "esb-postgres-drill-source");
                assert.strictEqual(storeOf(declared), "esb-postgres-recovered-source");
                const config = (id: string) => (r.get(T.store, id).inputs.spec as Obj).configuration;
                assert.deepStrictEqual(config("drills-esb-postgres-source"), config("cnpg-esb-postgres-recovered-source"));
                const rename = (spec: Obj) =>
                    JSON.parse(JSON.stringify(spec.externalClusters).replace(/"[a-z-]+-source"/, '"store"')) as unknown;
                assert.deepStrictEqual(rename(t.spec), rename(declared), `${method}: the same recovery source`);
            } else assert.deepStrictEqual(t.spec.externalClusters, declared.externalClusters, `${method}: the same recovery source`);
            assert.deepStrictEqual(t.spec.bootstrap, { recovery: { source: "esb-postgres-origin" } });
            assert.strictEqual(t.spec.backup, undefined);
            assert.strictEqual(t.spec.plugins, undefined);
            if (method === "barmanObjectStore")
                assert.deepStrictEqual(t.spec.env, declared.env, "the checksum environment a non-AWS store needs");
            const meta = r.get(T.cm, "drills-esb-postgres-template").inputs.metadata as Obj;
            assert.deepStrictEqual([meta.name, meta.namespace], ["esb-postgres-drill-template", "rciis-prod"]);
            assert.ok(validCluster(drillCluster(t, sourceCluster("rciis-prod"), { namespace: "rciis-prod", runId: "r", startedAt: "t" })));
        }
    });

    it("on AWS, give each drill cluster its own read-only role, trusted by its service account only", async () => {
        const aws = await render("aws", drills());
        const t = templateOf(aws, "ss-postgres");
        assert.deepStrictEqual(t.spec.serviceAccountTemplate, {
            metadata: {
                annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/backup/backup-cnpg-ss-postgres-drill" },
            },
        });
        const trust = JSON.parse(aws.get(T.iamRole, "backup-cnpg-ss-postgres-drill").inputs.assumeRolePolicy as string) as {
            Statement: { Condition: { StringEquals: Record<string, string> } }[];
        };
        assert.ok(Object.values(trust.Statement[0].Condition.StringEquals).includes("system:serviceaccount:rciis-prod:ss-postgres-drill"));
        const policy = JSON.parse(aws.get(T.iamPolicy, "backup-cnpg-ss-postgres-drill").inputs.policy as string) as {
            Statement: { Action: string | string[]; Resource: string }[];
        };
        const actions = (resource: string) =>
            policy.Statement.filter((s) => s.Resource === resource)
                .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
                .sort();
        assert.deepStrictEqual(actions("arn:aws:s3:::rciis-cnpg-backups/ss-postgres/*"), ["s3:GetObject"]);
        assert.deepStrictEqual(actions("arn:aws:s3:::rciis-cnpg-backups"), ["s3:GetBucketLocation", "s3:ListBucket"]);
        assert.deepStrictEqual(actions("arn:aws:kms:af-south-1:123456789012:key/backup-backups"), ["kms:Decrypt"]);
        assert.strictEqual(policy.Statement.length, 4, "nothing else: no write, no delete, no other prefix");
    });

    it("run on a schedule with only the RBAC the drill needs, named, in the database's namespace", () => {
        const role = bm.get(T.role, "drills-keycloak-pg-runner").inputs;
        assert.deepStrictEqual((role.metadata as Obj).namespace, "keycloak");
        const rules = role.rules as { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[];
        const grants = rules
            .flatMap((r) => r.verbs.map((v) => `${v} ${r.resources[0]}${r.resourceNames ? ` ${r.resourceNames.join(",")}` : ""}`))
            .sort();
        assert.deepStrictEqual(grants, [
            "create clusters",
            // The report's first server-side apply is authorized as `create` of its name (kube-apiserver patch handler).
            "create configmaps keycloak-pg-drill-report",
            "create jobs",
            "delete clusters keycloak-pg-drill",
            "delete jobs keycloak-pg-drill-check",
            "get clusters keycloak-pg,keycloak-pg-drill",
            "get configmaps keycloak-pg-drill-report",
            "get configmaps keycloak-pg-drill-template",
            "get jobs keycloak-pg-drill-check,keycloak-pg-drill-1-full-recovery",
            "get objectstores keycloak-pg-backup",
            "patch configmaps keycloak-pg-drill-report",
        ]);
        assert.ok(!rules.some((r) => r.resources.includes("secrets") || r.verbs.includes("*") || r.resources.includes("*")));
        const binding = bm.get(T.binding, "drills-keycloak-pg-runner").inputs;
        assert.deepStrictEqual(binding.subjects, [{ kind: "ServiceAccount", name: "keycloak-pg-drill-runner", namespace: "keycloak" }]);
        assert.deepStrictEqual(binding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "keycloak-pg-drill-runner" });
    });

    it("run the compiled drill on a pinned Node.js image, non-root, read-only, bounded", () => {
        const cj = bm.get(T.cronJob, "drills-esb-postgres");
        assert.deepStrictEqual(cj.inputs.metadata, {
            name: "esb-postgres-drill",
            namespace: "rciis-prod",
            labels: { "app.kubernetes.io/part-of": "backup-platform", "backup.platform/drill-of": "esb-postgres" },
            annotations: owned("baremetal"),
        });
        const spec = cj.inputs.spec as Obj;
        assert.deepStrictEqual([spec.schedule, spec.concurrencyPolicy], ["0 5 * * 0", "Forbid"]);
        assert.strictEqual(((spec.jobTemplate as Obj).spec as Obj).activeDeadlineSeconds, 3600 + 900);
        const pod = podSpec(cj);
        assert.strictEqual(pod.serviceAccountName, "esb-postgres-drill-runner");
        assert.strictEqual(pod.securityContext.runAsNonRoot, true);
        const [c] = pod.containers;
        assert.strictEqual(c.image, "node:22.12.0-alpine");
        assert.deepStrictEqual(c.command, ["node", "/drill/runner.js"]);
        assert.deepStrictEqual(
            c.env.map((e) => [e.name, e.value]),
            [
                ["DRILL_NAMESPACE", "rciis-prod"],
                ["DRILL_DATABASE", "esb-postgres"],
                ["DRILL_TIMEOUT_SECONDS", "3600"],
            ],
        );
        assert.strictEqual(c.securityContext.readOnlyRootFilesystem, true);
        assert.deepStrictEqual((c.resources as { limits: Obj }).limits, { cpu: "200m", memory: "128Mi" });
        assert.deepStrictEqual(pod.volumes, [{ name: "code", configMap: { name: "backup-drill-runner" } }]);
        const code = bm.get(T.cm, "drills-rciis-prod-runner-code").inputs.data as Record<string, string>;
        assert.deepStrictEqual(code, runnerCode(), "the code that runs is this repository's build");
        // The bundle holds drill/ and what it imports (core/names, kube/client), and nothing from node_modules.
        const sources = [...code["runner.js"].matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => m[1]).sort();
        assert.deepStrictEqual(sources, ["core/names.ts", "drill/core.ts", "drill/job.ts", "drill/manifests.ts", "kube/client.ts"]);
        assert.ok(!/node_modules/.test(code["runner.js"]));
    });

    it("schedule only the listed databases; without a schedule, templates only (for npm run drill)", async () => {
        const some = await render("baremetal", drills({ databases: ["ss-postgres"] }));
        assert.deepStrictEqual(
            some.all(T.cronJob).map((c) => c.name),
            ["drills-ss-postgres", "mssql-rciis-prod-RCIIS-backup"],
        );
        assert.strictEqual(some.all(T.cm).filter((c) => c.name.endsWith("-template")).length, 4);
        const manual = await render("baremetal", (raw) => (raw.drills = { enabled: true }));
        assert.ok(!manual.resources.some((r) => [T.sa, T.role, T.binding].includes(r.type) || r.name.endsWith("-runner-code")));
        assert.ok(!manual.all(T.cronJob).some((c) => c.name.startsWith("drills")));
        assert.strictEqual(manual.all(T.cm).filter((c) => c.name.endsWith("-template")).length, 4);
        const rules = (manual.get(T.rule, "backup-alerts-rules").inputs.spec as { groups: { rules: AlertRule[] }[] }).groups[0].rules;
        assert.ok(!rules.some((x) => x.alert === "CNPGRestoreDrillOverdue"), "nothing scheduled, nothing overdue");
    });

    it("alert when a scheduled drill has not passed within its interval plus grace, with a runbook", () => {
        const pr = bm.get(T.rule, "backup-alerts-rules").inputs;
        assert.ok(validateRule(pr), JSON.stringify(validateRule.errors));
        const rules = (pr.spec as { groups: { rules: AlertRule[] }[] }).groups[0].rules;
        const drillRules = rules.filter((x) => x.alert === "CNPGRestoreDrillOverdue");
        assert.strictEqual(drillRules.length, 4);
        const esb = drillRules.find((x) => x.expr.includes('cronjob="esb-postgres-drill"'));
        assert.ok(
            esb?.expr.includes(
                `kube_cronjob_status_last_successful_time{namespace="rciis-prod",cronjob="esb-postgres-drill"}) > ${7 * 24 * 3600 + 3 * 3600}`,
            ),
        );
        assert.strictEqual(esb?.annotations.runbook_url, `README.md#${RUNBOOK_ANCHORS.CNPGRestoreDrillOverdue}`);
        const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
        assert.ok(readme.includes("### Alert: CNPG restore drill overdue"));
    });

    it("keep resource names keyed by database, so reordering the inventory changes nothing", async () => {
        const reordered = await render("baremetal", (raw) => {
            drills()(raw);
            (raw.postgres as Raw[]).reverse();
        });
        const view = (x: Rendered) => JSON.stringify(x.resources.map((res) => [res.type, res.name, res.inputs]));
        assert.strictEqual(view(reordered), view(bm));
    });

    const bad: [string, Raw, RegExp][] = [
        [
            "an unknown database",
            { drills: { enabled: true, databases: ["nope"] } },
            /backup:drills\.databases\[0\]: "nope" is not in backup:postgres/,
        ],
        [
            "a five-field-less schedule",
            { drills: { enabled: true, schedule: "0 0 5 * * 0" } },
            /backup:drills\.schedule: a schedule must be a five-field cron/,
        ],
        ["an unpinned runner image", { drills: { enabled: true, image: "node:latest" } }, /backup:drills\.image: an image must be pinned/],
        ["a too short timeout", { drills: { enabled: true, timeoutMinutes: 1 } }, /backup:drills\.timeoutMinutes/],
        [
            "a database name too long for its drill cluster",
            { drills: { enabled: true }, postgres: [{ name: "a".repeat(45), namespace: "x" }] },
            /backup:postgres\[0\]\.name: .* too long for restore drills: its drill cluster .* at most 50 characters/,
        ],
        [
            "a drill cluster name that is taken",
            {
                drills: { enabled: true },
                postgres: [
                    { name: "app", namespace: "x" },
                    { name: "app-drill", namespace: "x" },
                ],
            },
            /backup:postgres\[0\]\.name: "app-drill" is already a cluster name/,
        ],
        ["drills without databases", { drills: { enabled: true }, postgres: [] }, /backup:drills\.enabled: restore drills need databases/],
    ];
    for (const [what, change, message] of bad) {
        it(`config: refuses ${what}`, () => {
            assert.throws(() => parseConfig({ ...stackConfig("baremetal"), ...change }), message);
        });
    }
});
