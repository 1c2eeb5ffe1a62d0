// `pulumi up --stack baremetal` for real: the real CLI and Kubernetes provider (built from Go modules)
// against a local kube-apiserver with the upstream CRDs and the application teams' CNPG Clusters.
// The tests run in order: each builds on the stack state the previous one left.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { main } from "../../program";
import { record, type Recorded } from "../../scripts/recorder";
import { apiPath, type Kube, type KubeObject } from "../../scripts/kube";
import { kube, localOverrides, ROOT, Workspace } from "../harness";
import { shared } from "./hooks";
import { readStackConfig, stackFile } from "../../scripts/stackfile";

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

/** Every value we sent arrived (Helm merges the chart's own defaults around them). */
function assertWithin(received: unknown, sent: unknown, where: string): void {
    if (sent !== null && typeof sent === "object" && !Array.isArray(sent)) {
        assert.ok(received !== null && typeof received === "object", `${where}: not an object in the chart's values`);
        for (const [k, v] of Object.entries(sent)) assertWithin((received as Obj)[k], v, `${where}.${k}`);
    } else {
        assert.deepStrictEqual(received, sent, where);
    }
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
        // Rook's operator (the stand-in the root hook runs) writes statuses, its finalizer and label: manager "rook".
        const managers = (o: KubeObject) =>
            ((o.metadata as Obj).managedFields as { manager: string }[]).map((m) => m.manager).filter((m) => m !== "rook");
        const owned: [string, string, string, string | undefined, string][] = [
            ["ceph.rook.io", "v1", "cephobjectstoreusers", "rook-ceph", "backup-velero"],
            ["objectbucket.io", "v1alpha1", "objectbucketclaims", "rook-ceph", "cnpg-backups"],
            ["storage.k8s.io", "v1", "storageclasses", undefined, "backup-buckets"],
            ["barmancloud.cnpg.io", "v1", "objectstores", "keycloak", "keycloak-pg-backup"],
            ["postgresql.cnpg.io", "v1", "scheduledbackups", "rciis-prod", "esb-postgres-base-backup"],
            ["batch", "v1", "cronjobs", "rciis-prod", "rciis-mssql-backup"],
            ["monitoring.coreos.com", "v1", "prometheusrules", "monitoring", "backup-alerts"],
            ["", "v1", "namespaces", undefined, "velero"],
            // Rendered by the charts: reached through the chart's transform.
            ["", "v1", "configmaps", "velero", "velero-received-values"],
            ["apps", "v1", "deployments", "kube-system", "descheduler"],
        ];
        for (const [group, version, plural, ns, name] of owned) {
            const obj = await get(k, group, version, plural, ns, name);
            assert.deepStrictEqual(managers(obj), ["backup-platform-baremetal"], `${plural} ${ns ?? ""}/${name}`);
        }
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

    it("passes the rendered values to both charts", async () => {
        const expected = await rendered(localOverrides());
        for (const [ns, release] of [
            ["velero", "velero"],
            ["kube-system", "descheduler"],
        ]) {
            const cm = await get(k, "", "v1", "configmaps", ns, `${release}-received-values`);
            const received = JSON.parse((cm.data as Record<string, string>)["values.json"]) as Obj;
            const sent = expected.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.name === release)?.inputs.values as Obj;
            assertWithin(received, sent, release);
        }
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
        // A local chart whose workload runs an unpinned image: valid config, mandatory violation.
        ws.setConfig({
            ...localOverrides(),
            "backup:charts": {
                ...(localOverrides()["backup:charts"] as Obj),
                velero: { path: path.join(ROOT, "e2e", "charts", "velero-unpinned") },
            },
        });
        try {
            const res = ws.pulumi(["preview", "--stack", "baremetal", "--policy-pack", pack, "--policy-pack-config", packConfig], {
                allowFailure: true,
            });
            assert.notStrictEqual(res.status, 0, "preview must fail");
            assert.match(`${res.stdout}\n${res.stderr}`, /workloads-container-image-pinned/);
            assert.match(`${res.stdout}\n${res.stderr}`, /velero\/velero:latest/);
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
