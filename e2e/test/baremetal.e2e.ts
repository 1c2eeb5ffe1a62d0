// `pulumi up --stack baremetal` for real: the real CLI and Kubernetes provider (built from Go modules)
// against a local kube-apiserver with the upstream CRDs and the application teams' CNPG Clusters.
// The tests run in order: each builds on the stack state the previous one left.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { main } from "../../program";
import { record, type Recorded } from "../../cli/recorder";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { CHART_PATHS, kube, localOverrides, ROOT } from "../harness";
import { Workspace } from "../workspace";
import { shared } from "./hooks";
import { readStackConfig, stackFile } from "../../cli/stackfile";

/** The object users the program keys itself (the bucket owner gets Rook's keys): `backup-<suffix>`. */
const KEYED_USERS = ["velero", "mssql", "cnpg-rciis-prod", "cnpg-monitoring", "cnpg-keycloak"];

type Obj = Record<string, unknown>;
const CLUSTERS: [string, string][] = [
    ["rciis-prod", "esb-postgres"],
    ["rciis-prod", "ss-postgres"],
    ["monitoring", "grafana-postgres"],
    ["keycloak", "keycloak-pg"],
];

/** What the mock-runtime render registers for the same config: the expected inputs. */
async function rendered(overrides: Record<string, unknown>): Promise<Recorded[]> {
    const config = { ...readStackConfig(stackFile("baremetal")).config };
    for (const [k, v] of Object.entries(overrides)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
    return (await record(main, { stack: "baremetal", config })).resources;
}

/** Resources whose inputs differ between two renders, as `type::name`. */
function changed(a: Recorded[], b: Recorded[]): string[] {
    const key = (r: Recorded) => `${r.type}::${r.name}`;
    const before = new Map(a.map((r) => [key(r), JSON.stringify(r.inputs)]));
    return b
        .filter((r) => before.get(key(r)) !== JSON.stringify(r.inputs))
        .map(key)
        .sort();
}

/** An object a chart rendered, as the state records it. */
interface ChartObject {
    group: string;
    version: string;
    kind: string;
    namespace?: string;
    name: string;
}

/** Every Kubernetes object the state lists as a child of a Helm chart (`pulumi stack export`). */
function chartChildren(exported: string): ChartObject[] {
    const resources = (
        JSON.parse(exported) as { deployment: { resources: { urn: string; type: string; parent?: string; outputs?: Obj }[] } }
    ).deployment.resources;
    const charts = new Set(resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart").map((r) => r.urn));
    return resources
        .filter((r) => r.parent !== undefined && charts.has(r.parent))
        .map((r) => {
            const out = r.outputs as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
            const [group, version] = out.apiVersion.includes("/") ? out.apiVersion.split("/") : ["", out.apiVersion];
            return { group, version, kind: out.kind, namespace: out.metadata.namespace, name: out.metadata.name };
        });
}

/** The engine's JSON event stream (`up --json`), one event per line. */
function events(stdout: string): Obj[] {
    return stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Obj);
}

const urnKey = (urn: string) => {
    const parts = urn.split("::");
    return `${(parts[2] ?? "").split("$").pop() ?? ""}::${parts[3] ?? ""}`;
};

/** Every fileblob metadata sidecar under a file:// backend's directory. */
function sidecars(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".attrs")).sort();
}

async function get(k: Kube, group: string, version: string, plural: string, ns: string | undefined, name: string): Promise<KubeObject> {
    const obj = await k.get(apiPath(group, version, plural, ns, name));
    assert.ok(obj, `${plural} ${ns ?? ""}/${name} not found`);
    return obj;
}

describe("pulumi up --stack baremetal against a local API server", function () {
    this.timeout(30 * 60_000);
    let ws: Workspace;
    let k: Kube;

    before(() => {
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init(localOverrides());
        k = kube(shared.kubeconfig);
    });

    after(() => {
        k?.close();
        if (process.env.E2E_KEEP !== "1") ws?.remove();
    });

    it("an up killed midway converges on the next run", async () => {
        const child = ws.upInBackground();
        // Wait until the update has demonstrably started creating objects, then kill it hard.
        const deadline = Date.now() + 5 * 60_000;
        while (Date.now() < deadline && !(await k.get(apiPath("", "v1", "secrets", "rook-ceph", "backup-velero-s3-keys")))) {
            await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok(child.pid);
        process.kill(-child.pid, "SIGKILL");
        await new Promise((r) => child.on("exit", r));
        // The backend writes no metadata sidecars, the one state file a kill could leave empty (README
        // "A killed pulumi up"); the checkpoint itself is replaced by rename, never rewritten in place.
        assert.deepStrictEqual(sidecars(path.join(ws.dir, "state")), [], "metadata=skip: no .attrs sidecars");
        // A killed update leaves the stack locked: cancel releases it, as an operator would.
        ws.pulumi(["cancel", "--yes", "--stack", "baremetal"], { allowFailure: true });
        const remaining = ws.previewSteps();
        assert.ok(
            remaining.some((s) => s.op === "create"),
            "the kill interrupted the update: work was left",
        );
        ws.up();
        assert.deepStrictEqual(ws.previewSteps(), [], "the stack converged");
    });

    it("creates every object the program owns, with the expected fields", async () => {
        for (const uid of ["backup-velero", "backup-mssql", "backup-cnpg-rciis-prod", "backup-cnpg-monitoring", "backup-cnpg-keycloak"]) {
            const user = await get(k, "ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", uid);
            assert.strictEqual((user.spec as Obj).capabilities, undefined);
            assert.deepStrictEqual(((user.spec as Obj).keys as Obj[])[0], {
                accessKeyRef: { name: `${uid}-s3-keys`, key: "access-key" },
                secretKeyRef: { name: `${uid}-s3-keys`, key: "secret-key" },
            });
            const keys = await get(k, "", "v1", "secrets", "rook-ceph", `${uid}-s3-keys`);
            assert.deepStrictEqual(Object.keys(keys.data as Obj).sort(), ["access-key", "secret-key"]);
        }
        // The buckets' owner: keys Rook generates, none from the program.
        const owner = await get(k, "ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", "backup-owner");
        assert.strictEqual((owner.spec as Obj).keys, undefined);
        for (const bucket of ["velero-backups", "cnpg-backups", "mssql-backups"]) {
            const obc = await get(k, "objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", bucket);
            assert.strictEqual((obc.spec as Obj).storageClassName, "backup-buckets");
            assert.ok(((obc.spec as Obj).additionalConfig as Obj).bucketLifecycle);
            assert.strictEqual(((obc.spec as Obj).additionalConfig as Obj).bucketOwner, "backup-owner");
        }
        const sc = await get(k, "storage.k8s.io", "v1", "storageclasses", undefined, "backup-buckets");
        assert.strictEqual(sc.reclaimPolicy, "Retain");
        // The user's keys reached each consumer's Secret, in its format.
        for (const ns of ["rciis-prod", "monitoring", "keycloak"]) {
            const cnpgKeys = (await get(k, "", "v1", "secrets", "rook-ceph", `backup-cnpg-${ns}-s3-keys`)).data as Record<string, string>;
            const s = (await get(k, "", "v1", "secrets", ns, "cnpg-s3-credentials")).data as Record<string, string>;
            assert.deepStrictEqual([s.ACCESS_KEY_ID, s.ACCESS_SECRET_KEY], [cnpgKeys["access-key"], cnpgKeys["secret-key"]]);
        }
        const veleroKeys = (await get(k, "", "v1", "secrets", "rook-ceph", "backup-velero-s3-keys")).data as Record<string, string>;
        const cloud = Buffer.from(
            ((await get(k, "", "v1", "secrets", "velero", "velero-s3-credentials")).data as Record<string, string>).cloud,
            "base64",
        ).toString();
        assert.ok(cloud.includes(`aws_access_key_id=${Buffer.from(veleroKeys["access-key"], "base64").toString()}`));
        for (const [ns, name] of CLUSTERS) {
            const sb = await get(k, "postgresql.cnpg.io", "v1", "scheduledbackups", ns, `${name}-base-backup`);
            assert.deepStrictEqual([(sb.spec as Obj).schedule, (sb.spec as Obj).method], ["0 0 2 * * *", "plugin"]);
            const store = await get(k, "barmancloud.cnpg.io", "v1", "objectstores", ns, `${name}-backup`);
            assert.strictEqual(((store.spec as Obj).configuration as Obj).destinationPath, `s3://cnpg-backups/${name}`);
        }
        const cron = await get(k, "batch", "v1", "cronjobs", "rciis-prod", "rciis-mssql-backup");
        assert.strictEqual((cron.spec as Obj).schedule, "0 3 * * *");
        const rule = await get(k, "monitoring.coreos.com", "v1", "prometheusrules", "monitoring", "backup-alerts");
        assert.ok(((rule.spec as { groups: { rules: Obj[] }[] }).groups[0].rules.length ?? 0) >= 7);
    });

    it("applies every object it owns as one field manager per stack, chart objects and key Secrets included", async () => {
        // Status written by the API server itself (a CRD's accepted names) is a subresource, and Rook's operator (the
        // stand-in the root hook runs) writes statuses, its finalizer and label as manager "rook": only the stack's own
        // fields count.
        const managers = (o: KubeObject) =>
            ((o.metadata as Obj).managedFields as { manager: string; subresource?: string }[])
                .filter((m) => m.subresource === undefined && m.manager !== "rook")
                .map((m) => m.manager);
        const owned: [string, string, string, string | undefined, string][] = [
            ["ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", "backup-velero"],
            ["objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "cnpg-backups"],
            ["storage.k8s.io", "v1", "storageclasses", undefined, "backup-buckets"],
            ["barmancloud.cnpg.io", "v1", "objectstores", "keycloak", "keycloak-pg-backup"],
            ["postgresql.cnpg.io", "v1", "scheduledbackups", "rciis-prod", "esb-postgres-base-backup"],
            ["batch", "v1", "cronjobs", "rciis-prod", "rciis-mssql-backup"],
            ["monitoring.coreos.com", "v1", "prometheusrules", "monitoring", "backup-alerts"],
            ["", "v1", "namespaces", undefined, "velero"],
        ];
        for (const [group, version, plural, ns, name] of owned) {
            const obj = await get(k, group, version, plural, ns, name);
            assert.deepStrictEqual(managers(obj), ["backup-platform-baremetal"], `${plural} ${ns ?? ""}/${name}`);
        }
        // Everything the real charts rendered (CRDs, RBAC, Deployments, BackupStorageLocation, Schedules, ServiceMonitor,
        // ...), reached through the charts' transform: every object the state lists under a Chart, read back from the cluster.
        const chartObjects = chartChildren(ws.exportState());
        const kinds = new Set(chartObjects.map((o) => o.kind));
        for (const kind of ["CustomResourceDefinition", "BackupStorageLocation", "Schedule", "Deployment", "ServiceMonitor", "ClusterRole"])
            assert.ok(kinds.has(kind), `the charts rendered a ${kind}: ${[...kinds].join()}`);
        assert.ok(chartObjects.length >= 25, `${chartObjects.length} chart objects`);
        let crds = 0;
        for (const o of chartObjects) {
            const obj = await get(k, o.group, o.version, `${o.kind.toLowerCase()}s`, o.namespace, o.name);
            assert.deepStrictEqual(managers(obj), ["backup-platform-baremetal"], `${o.kind} ${o.namespace ?? ""}/${o.name}`);
            if (o.kind !== "CustomResourceDefinition") continue;
            // The transform dropped the schemas' documentation (core/ownership.ts leanCrds) and nothing that validates.
            const versions = (obj.spec as { versions: { schema: { openAPIV3Schema: { properties?: Obj } } }[] }).versions;
            assert.ok(!/"description":"/.test(JSON.stringify(versions)), `${o.name} still has descriptions`);
            assert.ok(
                versions.every((v) => v.schema.openAPIV3Schema.properties !== undefined),
                `${o.name} kept its schema`,
            );
            crds++;
        }
        assert.strictEqual(crds, 13, "the Velero chart's 13 CRDs");
        // Key material too: after a killed up regenerates keys, the next run replaces them instead of conflicting.
        for (const c of KEYED_USERS) {
            const secret = await get(k, "", "v1", "secrets", "rook-ceph", `backup-${c}-s3-keys`);
            assert.deepStrictEqual(managers(secret), ["backup-platform-baremetal"], `backup-${c}-s3-keys`);
        }
        const consumer = await get(k, "", "v1", "secrets", "velero", "velero-s3-credentials");
        assert.deepStrictEqual(managers(consumer), ["backup-platform-baremetal"]);
    });

    it("patches the application teams' Clusters without touching their fields", async () => {
        for (const [ns, name] of CLUSTERS) {
            const cluster = await get(k, "postgresql.cnpg.io", "v1", "clusters", ns, name);
            const spec = cluster.spec as Obj;
            assert.deepStrictEqual(spec.plugins, [
                {
                    name: "barman-cloud.cloudnative-pg.io",
                    enabled: true,
                    isWALArchiver: true,
                    parameters: { barmanObjectName: `${name}-backup` },
                },
            ]);
            // The application team's fields are still theirs.
            assert.strictEqual(spec.instances, 1);
            assert.ok(typeof spec.description === "string" && spec.description.length > 0);
            const managers = ((cluster.metadata as Obj).managedFields as { manager: string; fieldsV1?: Obj }[]).map((m) => m.manager);
            assert.ok(managers.includes("app-team"), managers.join());
            assert.ok(managers.includes("backup-platform"), managers.join());
            const ours = ((cluster.metadata as Obj).managedFields as { manager: string; fieldsV1: { "f:spec"?: Obj } }[]).find(
                (m) => m.manager === "backup-platform",
            );
            assert.deepStrictEqual(Object.keys(ours?.fieldsV1["f:spec"] ?? {}), ["f:plugins"], "the patch owns only the backup fields");
        }
    });

    it("the real charts created the objects the program's values describe", async () => {
        const renders = await rendered(localOverrides());
        const values = (release: string) => {
            const chart = renders.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === release);
            assert.ok(chart, `no ${release} chart rendered`);
            assert.strictEqual(chart.inputs.chart, CHART_PATHS[release as keyof typeof CHART_PATHS], "the real chart, in place");
            return chart.inputs.values as Obj;
        };
        const v = values("velero") as {
            configuration: { backupStorageLocation: Obj[] };
            credentials: { existingSecret: string };
            schedules: Record<string, { schedule: string; template: Obj }>;
            initContainers: Obj[];
            podSecurityContext: Obj;
            containerSecurityContext: Obj;
            resources: Obj;
            metrics: { serviceMonitor: { additionalLabels: Record<string, string> } };
        };
        // The BackupStorageLocation: bucket, prefix, CA and every config key as sent (the chart quotes each value).
        const sentBsl = v.configuration.backupStorageLocation[0];
        const bsl = (await get(k, "velero.io", "v1", "backupstoragelocations", "velero", "default")).spec as {
            provider: string;
            default: boolean;
            objectStorage: Obj;
            config: Record<string, string>;
        };
        assert.deepStrictEqual([bsl.provider, bsl.default], ["aws", true]);
        assert.deepStrictEqual(bsl.objectStorage, {
            bucket: sentBsl.bucket,
            ...(sentBsl.prefix !== undefined ? { prefix: sentBsl.prefix } : {}),
            ...(sentBsl.caCert !== undefined ? { caCert: sentBsl.caCert } : {}),
        });
        assert.deepStrictEqual(bsl.config, sentBsl.config);
        // What the stack file says, end to end (the values could be wrong together with the objects).
        const baremetal = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Obj;
        assert.strictEqual(bsl.objectStorage.bucket, (baremetal.buckets as Obj).velero);
        assert.deepStrictEqual(bsl.config, {
            region: baremetal.region,
            s3ForcePathStyle: "true",
            s3Url: baremetal.endpoint,
            checksumAlgorithm: "",
        });
        // The server Deployment: the credentials Secret the program created, mounted where the AWS SDK reads it.
        const deployment = await get(k, "apps", "v1", "deployments", "velero", "velero");
        const pod = (deployment.spec as { template: { spec: Obj } }).template.spec as {
            containers: {
                name: string;
                env: { name: string; value?: string }[];
                securityContext: Obj;
                resources: Obj;
                volumeMounts: Obj[];
            }[];
            initContainers: Obj[];
            volumes: { name: string; secret?: { secretName: string } }[];
            securityContext: Obj;
            serviceAccountName: string;
        };
        assert.strictEqual(v.credentials.existingSecret, "velero-s3-credentials");
        assert.deepStrictEqual(
            pod.volumes.find((vol) => vol.name === "cloud-credentials")?.secret?.secretName,
            v.credentials.existingSecret,
        );
        await get(k, "", "v1", "secrets", "velero", v.credentials.existingSecret);
        const server = pod.containers.find((c) => c.name === "velero");
        assert.ok(server);
        assert.deepStrictEqual(
            server.volumeMounts.find((m) => m.name === "cloud-credentials"),
            { name: "cloud-credentials", mountPath: "/credentials" },
        );
        assert.strictEqual(server.env.find((e) => e.name === "AWS_SHARED_CREDENTIALS_FILE")?.value, "/credentials/cloud");
        assert.strictEqual(pod.serviceAccountName, "velero-server");
        // The init container with its image, security context and resources; the server's security contexts.
        assert.strictEqual(pod.initContainers.length, 1);
        const init = pod.initContainers[0] as { name: string; image: string; securityContext: Obj; resources: Obj };
        const sentInit = v.initContainers[0] as typeof init;
        assert.deepStrictEqual([init.name, init.image], [sentInit.name, sentInit.image]);
        assert.strictEqual(init.image, "velero/velero-plugin-for-aws:v1.13.0");
        assert.deepStrictEqual(init.securityContext, sentInit.securityContext);
        assert.deepStrictEqual(init.resources, sentInit.resources);
        assert.deepStrictEqual(pod.securityContext, v.podSecurityContext);
        assert.strictEqual(pod.securityContext.runAsNonRoot, true);
        assert.deepStrictEqual(server.securityContext, v.containerSecurityContext);
        assert.deepStrictEqual(server.resources, v.resources);
        // The Schedules, one per configured schedule, with their cron, TTL and scope.
        const schedules = await k.list(apiPath("velero.io", "v1", "schedules", "velero"));
        assert.deepStrictEqual(
            schedules.map((o) => o.metadata?.name).sort(),
            Object.keys(v.schedules)
                .map((n) => `velero-${n}`)
                .sort(),
        );
        assert.deepStrictEqual(Object.keys(v.schedules).sort(), ["daily-namespaces", "weekly-full"]);
        for (const [name, sent] of Object.entries(v.schedules)) {
            const spec = (await get(k, "velero.io", "v1", "schedules", "velero", `velero-${name}`)).spec as {
                schedule: string;
                template: Obj;
            };
            assert.strictEqual(spec.schedule, sent.schedule, name);
            assert.deepStrictEqual(spec.template, sent.template, name);
        }
        const daily = (await get(k, "velero.io", "v1", "schedules", "velero", "velero-daily-namespaces")).spec as {
            schedule: string;
            template: Obj;
        };
        assert.deepStrictEqual(
            [daily.schedule, daily.template.ttl, daily.template.includedNamespaces],
            ["0 2 * * *", "720h", JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:namespaces"])],
        );
        const monitor = await get(k, "monitoring.coreos.com", "v1", "servicemonitors", "velero", "velero");
        assert.strictEqual(
            (monitor.metadata as { labels: Record<string, string> }).labels.release,
            v.metrics.serviceMonitor.additionalLabels.release,
        );

        // The descheduler: its policy ConfigMap holds the protected-pod rules; replicas and leader election.
        const d = values("descheduler") as { replicas: number; deschedulerPolicy: Obj; deschedulingInterval: string };
        const policyMap = await get(k, "", "v1", "configmaps", "kube-system", "descheduler");
        const policy = parse((policyMap.data as Record<string, string>)["policy.yaml"]) as {
            apiVersion: string;
            kind: string;
            profiles: { pluginConfig: { name: string; args: { labelSelector?: Obj } }[] }[];
        };
        assert.deepStrictEqual(
            { ...policy, apiVersion: undefined, kind: undefined },
            { ...d.deschedulerPolicy, apiVersion: undefined, kind: undefined },
        );
        assert.strictEqual(policy.kind, "DeschedulerPolicy");
        const evictor = policy.profiles[0].pluginConfig.find((p) => p.name === "DefaultEvictor");
        assert.deepStrictEqual(evictor?.args.labelSelector, {
            matchExpressions: [
                { key: "cnpg.io/cluster", operator: "DoesNotExist" },
                { key: "app.kubernetes.io/name", operator: "NotIn", values: ["mssql"] },
            ],
        });
        const desched = await get(k, "apps", "v1", "deployments", "kube-system", "descheduler");
        const dspec = desched.spec as {
            replicas: number;
            template: { spec: { containers: { args: string[] }[]; volumes: { configMap?: { name: string } }[] } };
        };
        assert.strictEqual(dspec.replicas, d.replicas);
        assert.strictEqual(dspec.replicas, 3, "HA: three replicas");
        const args = dspec.template.spec.containers[0].args;
        assert.ok(args.includes("--leader-elect=true"), args.join(" "));
        assert.ok(args.includes(`--descheduling-interval=${d.deschedulingInterval}`), args.join(" "));
        assert.ok(dspec.template.spec.volumes.some((vol) => vol.configMap?.name === "descheduler"));
    });

    it("a second up changes nothing", () => {
        const stream = events(ws.up(["--json"]).stdout);
        const summary = stream.find((e) => "summaryEvent" in e)?.summaryEvent as { resourceChanges: Record<string, number> } | undefined;
        assert.ok(summary, "the engine reported a summary");
        assert.deepStrictEqual(Object.keys(summary.resourceChanges), ["same"], JSON.stringify(summary.resourceChanges));
        const ops = stream
            .filter((e) => "resourcePreEvent" in e)
            .map((e) => (e.resourcePreEvent as { metadata: { op: string } }).metadata.op);
        assert.ok(ops.length > 40 && ops.every((op) => op === "same"), ops.join());
    });

    it("preview after a retention change shows exactly the resources that change", async () => {
        const expected = changed(await rendered(localOverrides()), await rendered({ ...localOverrides(), "backup:retention": "14d" }));
        assert.ok(expected.length > 0);
        ws.setConfig({ ...localOverrides(), "backup:retention": "14d" });
        try {
            const steps = ws.previewSteps();
            assert.deepStrictEqual(
                steps.map((s) => urnKey(s.urn)).sort(),
                expected,
                JSON.stringify(steps.map((s) => [s.op, urnKey(s.urn)])),
            );
            assert.ok(
                steps.every((s) => s.op === "update"),
                "a retention change updates in place",
            );
        } finally {
            ws.setConfig(localOverrides());
        }
    });

    it("keeps key material out of the state in plaintext", async () => {
        const state = ws.exportState();
        for (const c of KEYED_USERS) {
            const keys = (await get(k, "", "v1", "secrets", "rook-ceph", `backup-${c}-s3-keys`)).data as Record<string, string>;
            for (const v of Object.values(keys)) {
                const plain = Buffer.from(v, "base64").toString();
                assert.ok(!state.includes(plain), `${c} key material in plaintext in the state`);
                assert.ok(!state.includes(v), `${c} key material (base64) in the state`);
            }
        }
        assert.ok(state.includes("4dabf18193072939515e22adb298388d"), "secrets are recorded as secrets");
    });

    it("passes the policy pack, and a config that violates a mandatory policy is blocked", () => {
        const pack = path.join(ROOT, "policy");
        const packConfig = path.join(ws.dir, "policy-config.json");
        // The pack's config comes from the stack file, as in CI.
        fs.writeFileSync(
            packConfig,
            execFileSync(process.execPath, [path.join(pack, "bin", "scripts", "stack-config.js"), stackFile("baremetal")], {
                encoding: "utf8",
            }),
        );
        ws.pulumi(["preview", "--stack", "baremetal", "--policy-pack", pack, "--policy-pack-config", packConfig]);
        // A valid config that violates a mandatory policy: a 12-hour TTL (config accepts any whole number of hours; the
        // pack requires at least 24). The real chart turns it into a Schedule object, and the pack blocks that object.
        const velero = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:velero"] ?? "{}") as Obj;
        ws.setConfig({
            ...localOverrides(),
            "backup:velero": { ...velero, schedules: { "daily-namespaces": { schedule: "0 2 * * *", ttl: "12h" } } },
        });
        try {
            const res = ws.pulumi(["preview", "--stack", "baremetal", "--policy-pack", pack, "--policy-pack-config", packConfig], {
                allowFailure: true,
            });
            const out = `${res.stdout}\n${res.stderr}`;
            assert.notStrictEqual(res.status, 0, "preview must fail");
            assert.match(out, /velero-schedule-ttl-required/);
            assert.match(out, /mandatory/);
            assert.match(out, /Schedule velero-daily-namespaces: template\.ttl "12h" keeps backups under 24 hours/);
        } finally {
            ws.setConfig(localOverrides());
        }
    });

    it("destroy leaves object users, their key Secrets and bucket claims in place", async () => {
        ws.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"]);
        for (const uid of ["backup-velero", "backup-cnpg-rciis-prod", "backup-mssql"]) {
            await get(k, "ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", uid);
            await get(k, "", "v1", "secrets", "rook-ceph", `${uid}-s3-keys`);
        }
        await get(k, "ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", "backup-owner");
        for (const bucket of ["velero-backups", "cnpg-backups", "mssql-backups"]) {
            await get(k, "objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", bucket);
        }
        // Velero's CRDs stay, as Helm leaves them: deleting them would delete every Backup and Restore object.
        for (const crd of ["backups.velero.io", "restores.velero.io", "schedules.velero.io", "backupstoragelocations.velero.io"]) {
            await get(k, "apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, crd);
        }
        assert.strictEqual(await k.get(apiPath("apps", "v1", "deployments", "velero", "velero")), undefined, "the chart's Deployment goes");
        // What is not data goes: the ScheduledBackups, and the backup fields of the teams' Clusters.
        assert.strictEqual(
            await k.get(apiPath("postgresql.cnpg.io", "v1", "scheduledbackups", "rciis-prod", "esb-postgres-base-backup")),
            undefined,
        );
        const cluster = await get(k, "postgresql.cnpg.io", "v1", "clusters", "rciis-prod", "esb-postgres");
        assert.strictEqual((cluster.spec as Obj).plugins, undefined);
        assert.strictEqual((cluster.spec as Obj).instances, 1);
    });

    it("a stack re-created under the same name adopts what was retained and replaces the keys it regenerated", async () => {
        const before = (await get(k, "", "v1", "secrets", "rook-ceph", "backup-cnpg-rciis-prod-s3-keys")).data as Record<string, string>;
        const obc = await get(k, "objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "cnpg-backups");
        // A lost state file: a new workspace, a new backend, the same stack name.
        const again = new Workspace("baremetal", shared.env, shared.kubeconfig);
        try {
            again.init(localOverrides());
            again.up();
            assert.deepStrictEqual(again.previewSteps(), [], "the re-created stack converged");
            const after = (await get(k, "", "v1", "secrets", "rook-ceph", "backup-cnpg-rciis-prod-s3-keys")).data as Record<string, string>;
            assert.notDeepStrictEqual(after, before, "new keys replaced the retained ones");
            const consumer = (await get(k, "", "v1", "secrets", "rciis-prod", "cnpg-s3-credentials")).data as Record<string, string>;
            assert.deepStrictEqual([consumer.ACCESS_KEY_ID, consumer.ACCESS_SECRET_KEY], [after["access-key"], after["secret-key"]]);
            // The bucket claim is the same object, adopted, not re-created.
            const adopted = await get(k, "objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "cnpg-backups");
            assert.strictEqual((adopted.metadata as Obj).uid, (obc.metadata as Obj).uid);
        } finally {
            if (process.env.E2E_KEEP !== "1") again.remove();
        }
    });
});
