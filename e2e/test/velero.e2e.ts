// Velero backing up and restoring for real (issue 13, section 4): `pulumi up --stack baremetal` with the upstream
// Velero and Descheduler charts against the local API server, the Rook stand-in turning the program's object users and
// bucket claims into RGW users and buckets on a real Ceph RGW (e2e/objectstore.sh), then the real `velero server`
// (built from Go modules by e2e/toolchain.sh) run outside a pod with the Deployment the chart rendered
// (e2e/velero/server.ts: its args, its env, its volumes, and the BackupStorageLocation and Schedules the chart
// created). No kubelet: no volume data is backed up (there are no pods); the node agent is off, as in the default.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { CHART_PATHS, kube } from "../harness";
import { Workspace } from "../workspace";
import { createApplication, deleteNamespace, restoredContent } from "../velero/application";
import { releaseUpgradedCrds, upgradeCrds, veleroBucketReady, VeleroServer } from "../velero/server";
import { buildVelero } from "../velero/tools";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
/**
 * Velero's bucket prefix: `backup:velero.prefix`, the stack's default (none) unless VELERO_E2E_PREFIX is set. With a
 * prefix the program grants ListBucket only under it, and RGW answers Velero's HeadObject on a not-yet-written
 * `velero-backup.json` with 403 instead of 404: every backup fails (e2e/NOTES.md, "Velero for real").
 */
const PREFIX = process.env.VELERO_E2E_PREFIX ?? "";
/** Where Velero's folders start in the bucket. */
const ROOT_DIR = PREFIX === "" ? "" : `${PREFIX}/`;
/** The top-level folders Velero writes (and nothing else). */
const VELERO_DIRS = ["backups", "restores", "kopia", "metadata"];
const APP_NS = "velero-e2e-shop";
const NS = "velero";

const log = (s: string) => process.stdout.write(`      [velero-e2e] ${s}\n`);

describe("Velero backs up and restores for real (real chart, real velero server, Ceph RGW)", function () {
    this.timeout(30 * 60_000);
    let ws: Workspace;
    let k: Kube;
    let tmp: string;
    let endpoint = "";
    let velero: VeleroServer | undefined;
    let failures = 0;

    afterEach(function () {
        if (this.currentTest?.state === "failed") failures++;
    });

    const cli = (args: string[], allowFailure = false): string => {
        assert.ok(velero, "the velero server runs");
        log(`$ velero ${args.join(" ")}`);
        return velero.cli(args, allowFailure);
    };

    before(function () {
        this.timeout(20 * 60_000);
        // Optional toolchain components (not in DEFAULT_COMPONENTS): built on first use (~17 min cold), then cached.
        buildVelero(shared.env);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "velero-e2e-"));
        k = kube(shared.kubeconfig);

        // The suite's object store and Rook stand-in (e2e/test/hooks.ts) serve the program's users and claims.
        endpoint = shared.store.endpoint;
        assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
        const bm = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Obj;

        // pulumi up --stack baremetal with the upstream charts, pointed at the local RGW.
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init({
            "backup:charts": { velero: { path: CHART_PATHS.velero }, descheduler: { path: CHART_PATHS.descheduler } },
            "backup:skipAwait": true,
            "backup:baremetal": { ...bm, endpoint },
            ...(PREFIX === "" ? {} : { "backup:velero": { prefix: PREFIX } }),
        });
        const t0 = Date.now();
        ws.up();
        log(`pulumi up --stack baremetal (real charts) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

    after(async function () {
        this.timeout(5 * 60_000);
        if (velero) {
            log(`stopping velero server (pid ${String(velero.pid)})`);
            await velero.stop();
            if (this.currentTest?.state === "failed" || failures > 0)
                log(`velero server errors and warnings (last 40):\n${velero.logTail(40, /level=(error|warning)/)}`);
            log(`what ran:\n${velero.ran.map((r) => `        ${r}`).join("\n")}`);
        }
        if (process.env.E2E_KEEP !== "1") {
            ws?.remove();
            if (k) await releaseUpgradedCrds(k);
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        }
        k?.close();
    });

    it("the Rook stand-in binds the program's Velero bucket claim", async () => {
        const t0 = Date.now();
        const claim = await veleroBucketReady(k);
        log(`claim velero-backups Bound and its users Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after up`);
        assert.strictEqual((claim.spec as Obj).bucketName, "velero-backups");
    });

    it("upgrades the chart's Velero CRDs (appVersion 1.17.1) to the server's own (1.18.3), as Velero's upgrade guide does", async () => {
        // A pod would run the chart's image (1.17.1) against the chart's CRDs; here the only served server is 1.18.3,
        // so its CRDs replace the chart's (e2e/velero/server.ts, upgradeCrds).
        const changedSchemas = await upgradeCrds(k, tmp);
        log(`CRDs whose schema 1.18.3 changes: ${changedSchemas.join(", ")}`);
        assert.ok(changedSchemas.includes("backups.velero.io"), "the Backup CRD differs (the reason for the upgrade)");
    });

    it("runs velero server with the Deployment the chart rendered; the BackupStorageLocation becomes Available", async () => {
        velero = await VeleroServer.start(k, shared.kubeconfig, tmp, NS, log);
        assert.strictEqual(velero.prefix, PREFIX, "the chart's location carries the configured prefix (none by default)");
        assert.strictEqual(((velero.location.spec as Obj).config as Obj).s3Url, endpoint);
        // The location the chart created, not one of ours: its field manager is the stack's.
        const managers = ((velero.location.metadata as Obj).managedFields as { manager: string }[]).map((m) => m.manager);
        assert.ok(managers.includes("backup-platform-baremetal"), `BSL managers: ${managers.join(", ")}`);
    });

    let backupObjects: Map<string, KubeObject>;

    it("backs up an application namespace (ConfigMaps, Secrets, a CNPG Cluster); its files are in the bucket under the prefix", async () => {
        assert.ok(velero);
        backupObjects = await createApplication(k, APP_NS);
        const t0 = Date.now();
        cli(["backup", "create", "shop-1", "--include-namespaces", APP_NS]);
        const backup = await velero.finished("backups", "shop-1");
        const status = backup.status as Obj;
        log(`backup shop-1: ${String(status.phase)} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${JSON.stringify(status.progress)}`);
        if (status.phase !== "Completed")
            assert.fail(`${String(status.phase)}, not Completed:\n${cli(["backup", "describe", "shop-1", "--details"], true)}`);
        assert.strictEqual((status.progress as Obj).itemsBackedUp, (status.progress as Obj).totalItems);

        const keys = velero.list(ROOT_DIR, endpoint);
        log(`s3://${velero.bucket}/${ROOT_DIR} as the velero user:\n${keys.map((key) => `        ${key}`).join("\n")}`);
        const dir = `${ROOT_DIR}backups/shop-1/`;
        for (const f of ["shop-1.tar.gz", "velero-backup.json", "shop-1-logs.gz", "shop-1-resource-list.json.gz"]) {
            assert.ok(keys.includes(dir + f), `${dir}${f} is in the bucket`);
        }
        // Everything in the bucket (the velero user owns no other prefix here) is under the prefix, in Velero's folders.
        const stray = velero
            .list("", endpoint)
            .filter((key) => !key.startsWith(ROOT_DIR) || !VELERO_DIRS.includes(key.slice(ROOT_DIR.length).split("/")[0]));
        assert.deepStrictEqual(stray, [], `every object is under "${ROOT_DIR}" in one of Velero's folders (${VELERO_DIRS.join(", ")})`);
    });

    it("restores the deleted namespace: every object comes back with its data", async () => {
        assert.ok(velero);
        const t0 = Date.now();
        await deleteNamespace(k, APP_NS);
        log(`namespace ${APP_NS} deleted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        for (const p of backupObjects.keys()) assert.strictEqual(await k.get(p), undefined, `${p} is gone`);

        const t1 = Date.now();
        cli(["restore", "create", "shop-1-restore", "--from-backup", "shop-1"]);
        const restore = await velero.finished("restores", "shop-1-restore");
        const status = restore.status as Obj;
        log(
            `restore shop-1-restore: ${String(status.phase)} in ${((Date.now() - t1) / 1000).toFixed(1)} s, ${JSON.stringify(status.progress)}`,
        );
        if (status.phase !== "Completed")
            assert.fail(`${String(status.phase)}, not Completed:\n${cli(["restore", "describe", "shop-1-restore", "--details"], true)}`);
        for (const [p, before] of backupObjects) {
            const after = await k.get(p);
            assert.ok(after, `${p} restored`);
            assert.notStrictEqual((after.metadata as Obj).uid, (before.metadata as Obj).uid, `${p} is a new object`);
            assert.deepStrictEqual(restoredContent(after), restoredContent(before), `${p}: data and labels`);
            if (before.kind === "Cluster") assert.deepStrictEqual(after.spec, before.spec, `${p}: spec`);
            assert.strictEqual(
                ((after.metadata as Obj).labels as Obj)["velero.io/restore-name"],
                "shop-1-restore",
                `${p}: labelled by the restore`,
            );
        }
        log(
            `restored ${backupObjects.size} objects with equal data: ${[...backupObjects.keys()].map((p) => p.split("/").slice(-2).join("/")).join(", ")}`,
        );
    });

    it("a backup from each Schedule the chart created completes", async () => {
        assert.ok(velero);
        const schedules = (await k.list(apiPath("velero.io", "v1", "schedules", NS))).map((s) => (s.metadata as Obj).name as string).sort();
        log(`schedules: ${schedules.join(", ")}`);
        // The program's HA profile: one Schedule per `backup:velero.schedules` entry (default daily-namespaces, weekly-full).
        assert.deepStrictEqual(
            schedules.map((s) => s.replace(/^velero-/, "")),
            ["daily-namespaces", "weekly-full"],
        );
        for (const schedule of schedules) {
            const name = `${schedule}-manual`;
            const t0 = Date.now();
            cli(["backup", "create", name, "--from-schedule", schedule]);
            const backup = await velero.finished("backups", name);
            const status = backup.status as Obj;
            log(
                `backup ${name} (from schedule ${schedule}): ${String(status.phase)} in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${JSON.stringify(status.progress)}`,
            );
            if (status.phase !== "Completed")
                assert.fail(`${String(status.phase)}, not Completed:\n${cli(["backup", "describe", name, "--details"], true)}`);
            const spec = backup.spec as Obj;
            const template = (((await velero.get("schedules", schedule)) as Obj).spec as Obj).template as Obj;
            // No namespaces in the template means all of them; Velero writes that as "*".
            assert.deepStrictEqual(
                spec.includedNamespaces ?? ["*"],
                template.includedNamespaces ?? ["*"],
                `${name}: the schedule's namespaces`,
            );
            assert.strictEqual(spec.includeClusterResources, template.includeClusterResources, `${name}: the schedule's cluster scope`);
            assert.strictEqual(((backup.metadata as Obj).labels as Obj)["velero.io/schedule-name"], schedule);
            const keys = velero.list(`${ROOT_DIR}backups/${name}/`, endpoint);
            assert.ok(keys.includes(`${ROOT_DIR}backups/${name}/${name}.tar.gz`), `${name}: its tarball is in the bucket`);
        }
    });
});
