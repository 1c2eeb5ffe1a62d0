// The seeds' own manifests (read from ../shared/seeds, never copied) run through the pack: the
// mistakes the program fixes must fail, the parts it keeps must pass.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { cephObjectStoreUserNoCapabilities } from "../ceph";
import { cnpgClusterInTreeBarmanDeprecated, cnpgClusterRetentionPolicy, cnpgScheduledBackupSixFieldSchedule } from "../cnpg";
import { stackCnpgBackupPairing } from "../stack";
import { veleroChartCredentialsIrsaConflict, veleroScheduleFiveFieldCron, veleroScheduleTtlRequired } from "../velero";
import { changed, expectOne, runStack, sharedDir, stackResources, type ResourceInput } from "./harness";

/** Seed 001, the cleanest copy of the install page (its YAML keeps its indentation). */
function seedText(): string {
    const dir = path.join(sharedDir, "seeds");
    const file = fs.readdirSync(dir).find((f) => f.startsWith("001_"));
    if (file === undefined) throw new Error(`no seed 001_* in ${dir} (set BACKUP_SHARED_DIR to the shared folder)`);
    return fs.readFileSync(path.join(dir, file), "utf8");
}

/**
 * The YAML block under the `occurrence`-th line that is exactly `label` (a file name in the page),
 * up to the first top-level line that is neither YAML nor a comment (the page's prose).
 */
function seedBlock(label: string, occurrence = 0): Record<string, unknown> {
    const lines = seedText().split("\n");
    const starts = lines.flatMap((line, i) => (line.trim() === label ? [i] : []));
    if (starts[occurrence] === undefined) throw new Error(`seed 001 has no block "${label}" #${occurrence}`);
    const block: string[] = [];
    for (const line of lines.slice(starts[occurrence] + 1)) {
        if (line !== "" && !/^\s/.test(line) && !line.startsWith("#") && !/^[A-Za-z][\w.-]*:( |$)/.test(line)) break;
        block.push(line);
    }
    return parse(block.join("\n")) as Record<string, unknown>;
}

/** A manifest as the resource the program would register for it. */
function asResource(manifest: Record<string, unknown>): ResourceInput {
    const [group, version] = String(manifest.apiVersion).split("/");
    return { type: `kubernetes:${group}/${version}:${String(manifest.kind)}`, props: manifest };
}

describe("the seeds' manifests", () => {
    it('fail ceph-objectstoreuser-no-capabilities: the Velero user has capabilities user "*" and bucket "*"', () =>
        expectOne(
            cephObjectStoreUserNoCapabilities,
            asResource(seedBlock("flux/infra/baremetal/velero/velero-s3-user.yaml")),
            /user: "\*", bucket: "\*"/,
        ));

    it("fail ceph-objectstoreuser-no-capabilities: the shared cnpg-backup user too", () =>
        expectOne(cephObjectStoreUserNoCapabilities, asResource(seedBlock("cnpg-s3-user.yaml")), /user: "\*", bucket: "\*"/));

    it('fail cnpg-scheduledbackup-six-field-schedule: "0 2 * * *" runs hourly under CNPG', async () => {
        const seed = asResource(seedBlock("scheduled-backup.yaml"));
        assert.strictEqual((seed.props.spec as { schedule: string }).schedule, "0 2 * * *");
        await expectOne(cnpgScheduledBackupSixFieldSchedule, seed, /minute 2 of every hour.*Write "0 0 2 \* \* \*"/);
    });

    it("keep a retention on the in-tree backup stanza, which the pack flags as deprecated", async () => {
        const cluster = asResource(seedBlock("cluster-with-backup.yaml"));
        assert.strictEqual((cluster.props.spec as { backup: { retentionPolicy: string } }).backup.retentionPolicy, "30d");
        await expectOne(cnpgClusterRetentionPolicy, cluster);
        await expectOne(
            cnpgClusterRetentionPolicy,
            changed(cluster, ["props", "spec", "backup", "retentionPolicy"], undefined),
            /retentionPolicy is not/,
        );
        await expectOne(cnpgClusterInTreeBarmanDeprecated, cluster, /deprecated/);
    });

    it("pass the recovery cluster (externalClusters is a source, not a backup target)", async () => {
        const recovery = asResource(seedBlock("recovery-cluster.yaml"));
        assert.ok(JSON.stringify(recovery.props).includes('"barmanObjectStore"'), "the block holds the externalClusters store");
        await expectOne(cnpgClusterRetentionPolicy, recovery);
        await expectOne(cnpgClusterInTreeBarmanDeprecated, recovery);
        assert.deepStrictEqual(
            (await runStack(stackCnpgBackupPairing, stackResources([{ ...recovery, name: "recovered" }]))).violations,
            [],
        );
    });

    it("pair the seed's Cluster with its ScheduledBackup (same namespace, method barmanObjectStore)", async () => {
        const cluster = asResource(seedBlock("cluster-with-backup.yaml"));
        const scheduled = asResource(seedBlock("scheduled-backup.yaml"));
        const outcome = await runStack(
            stackCnpgBackupPairing,
            stackResources([
                { ...cluster, name: "cluster" },
                { ...scheduled, name: "scheduled" },
            ]),
        );
        assert.deepStrictEqual(outcome.violations, []);
    });

    it("pass the HA Velero schedules (five-field cron, explicit TTLs)", async () => {
        const values = seedBlock("flux/infra/aws/velero/values.yaml");
        assert.deepStrictEqual(Object.keys(values.schedules as object), ["daily-namespaces", "weekly-full"]);
        const chart: ResourceInput = { type: "kubernetes:helm.sh/v4:Chart", props: { chart: "velero", version: "11.3.2", values } };
        await expectOne(veleroScheduleFiveFieldCron, chart);
        await expectOne(veleroScheduleTtlRequired, chart);
    });

    it("fail velero-chart-credentials-irsa-conflict once the base values (useSecret: true) get an IRSA role", async () => {
        const release = seedBlock("flux/infra/base/velero.yaml");
        const values = (release.spec as { values: Record<string, unknown> }).values;
        assert.deepStrictEqual(values.credentials, { useSecret: true, existingSecret: "velero-s3-credentials" });
        const chart: ResourceInput = { type: "kubernetes:helm.sh/v4:Chart", props: { chart: "velero", values } };
        await expectOne(veleroChartCredentialsIrsaConflict, chart);
        const annotated = changed(chart, ["props", "values", "serviceAccount"], {
            server: { annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/velero" } },
        });
        await expectOne(veleroChartCredentialsIrsaConflict, annotated, /useSecret is true/);
    });
});
