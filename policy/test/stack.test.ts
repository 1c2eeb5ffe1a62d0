import * as assert from "assert";
import * as stack from "../stack";
import * as fx from "./fixtures";
import { changed, runStack, stackResources, urnOf, type ResourceInput, type StackInput } from "./harness";

/** A fixture as a stack member. */
const member = (input: ResourceInput, name: string, parent?: string): StackInput => ({
    type: input.type,
    name,
    props: input.props,
    parent,
    opts: input.opts,
});

/** The bucket and its five guard-rail resources, parented as stacks/aws/ parents them. */
function awsBucket(): StackInput[] {
    return [
        member(fx.bucket(), "backup-cnpg"),
        member(fx.encryption(), "backup-cnpg-sse", "aws:s3/bucket:Bucket::backup-cnpg"),
        member(fx.versioning(), "backup-cnpg-versioning", "aws:s3/bucket:Bucket::backup-cnpg"),
        member(fx.publicAccessBlock(), "backup-cnpg-pab", "aws:s3/bucket:Bucket::backup-cnpg"),
        member(fx.bucketPolicy(), "backup-cnpg-policy", "aws:s3/bucket:Bucket::backup-cnpg"),
        member(fx.lifecycle(), "backup-cnpg-lifecycle", "aws:s3/bucket:Bucket::backup-cnpg"),
    ];
}

describe("stack policies", () => {
    describe("stack-s3-bucket-guardrails", () => {
        const policy = stack.stackS3BucketGuardrails;
        it("passes a bucket with all five guard rails", async () =>
            assert.deepStrictEqual((await runStack(policy, stackResources(awsBucket()))).violations, []));

        const labels = [
            "server-side encryption configuration",
            "versioning configuration",
            "public access block",
            "bucket policy",
            "lifecycle configuration",
        ];
        labels.forEach((label, i) =>
            it(`fails a bucket without its ${label}, reported on the bucket`, async () => {
                const resources = awsBucket().filter((_, j) => j !== i + 1);
                const outcome = await runStack(policy, stackResources(resources));
                assert.deepStrictEqual(outcome.violations, [`bucket backup-cnpg has no ${label}.`]);
                assert.deepStrictEqual(outcome.urns, [urnOf("aws:s3/bucket:Bucket", "backup-cnpg")]);
            }),
        );

        it("matches unparented children by the bucket prop (the bucket's name on AWS)", async () => {
            const resources = awsBucket().map((r, i) =>
                i === 0 ? r : { ...r, parent: undefined, props: { ...r.props, bucket: "rciis-cnpg-backups" } },
            );
            assert.deepStrictEqual((await runStack(policy, stackResources(resources))).violations, []);
        });

        it("does not credit one bucket with another bucket's children", async () => {
            const other = changed(fx.bucket(), ["props", "bucket"], "rciis-aws-velero-backups");
            const outcome = await runStack(policy, stackResources([...awsBucket(), member(other, "backup-velero")]));
            assert.strictEqual(outcome.violations.length, 1);
            assert.match(
                outcome.violations[0],
                /^bucket backup-velero has no server-side encryption configuration, versioning configuration, public access block, bucket policy, lifecycle configuration\.$/,
            );
        });
    });

    describe("stack-cnpg-backup-pairing", () => {
        const policy = stack.stackCnpgBackupPairing;
        const run = (inputs: ResourceInput[], config: object = {}) =>
            runStack(policy, stackResources(inputs.map((r, i) => member(r, `r${i}`))), config);
        const inTreeSchedule = () =>
            changed(
                changed(fx.scheduledBackup(), ["props", "spec", "method"], "barmanObjectStore"),
                ["props", "spec", "pluginConfiguration"],
                undefined,
            );

        it("passes a plugin cluster with a plugin ScheduledBackup", async () =>
            assert.deepStrictEqual((await run([fx.pluginClusterPatch(), fx.scheduledBackup()])).violations, []));
        it("passes an in-tree cluster with a barmanObjectStore ScheduledBackup", async () =>
            assert.deepStrictEqual((await run([fx.inTreeClusterPatch(), inTreeSchedule()])).violations, []));
        it("fails a backed-up cluster without a ScheduledBackup", async () => {
            const outcome = await run([fx.pluginClusterPatch()]);
            assert.strictEqual(outcome.violations.length, 1);
            assert.match(outcome.violations[0], /cluster rciis-prod\/esb-postgres archives WAL but has no ScheduledBackup/);
            assert.deepStrictEqual(outcome.urns, [urnOf(fx.pluginClusterPatch().type, "r0")]);
        });
        it("fails a ScheduledBackup whose cluster has no backup configuration", async () => {
            const outcome = await run([fx.scheduledBackup()]);
            assert.strictEqual(outcome.violations.length, 1);
            assert.match(outcome.violations[0], /targets cluster rciis-prod\/esb-postgres, which has no backup configuration/);
        });
        it("fails a ScheduledBackup in another namespace (both sides unpaired)", async () => {
            const outcome = await run([
                fx.pluginClusterPatch(),
                changed(fx.scheduledBackup(), ["props", "metadata", "namespace"], "monitoring"),
            ]);
            assert.strictEqual(outcome.violations.length, 2);
        });
        it("does not count a plugin entry that is not the WAL archiver", async () => {
            const outcome = await run([
                changed(fx.pluginClusterPatch(), ["props", "spec", "plugins", 0, "isWALArchiver"], false),
                fx.scheduledBackup(),
            ]);
            assert.match(outcome.violations.join("\n"), /has no backup configuration/);
        });
        it("fails a plugin ScheduledBackup on an in-tree cluster", async () => {
            const outcome = await run([fx.inTreeClusterPatch(), fx.scheduledBackup()]);
            assert.deepStrictEqual(outcome.violations, [
                "ScheduledBackup rciis-prod/esb-postgres-daily uses method plugin, but cluster rciis-prod/esb-postgres does not archive through barman-cloud.cloudnative-pg.io.",
            ]);
        });
        it("fails a barmanObjectStore ScheduledBackup (the seeds' method) on a plugin cluster", async () => {
            const outcome = await run([fx.pluginClusterPatch(), inTreeSchedule()]);
            assert.match(
                outcome.violations.join("\n"),
                /uses method barmanObjectStore, but cluster rciis-prod\/esb-postgres has no spec.backup.barmanObjectStore/,
            );
        });
        it("exempts recovery clusters", async () => {
            const recovery = changed(
                changed(fx.pluginClusterPatch(), ["type"], "kubernetes:postgresql.cnpg.io/v1:Cluster"),
                ["props", "spec", "bootstrap"],
                {
                    recovery: { source: "esb-postgres-backup" },
                },
            );
            assert.deepStrictEqual((await run([recovery])).violations, []);
        });
        it("passes an inventory that is fully covered", async () =>
            assert.deepStrictEqual(
                (
                    await run([fx.pluginClusterPatch(), fx.scheduledBackup()], {
                        inventory: [{ name: "esb-postgres", namespace: "rciis-prod" }],
                    })
                ).violations,
                [],
            ));
        it("fails inventory databases the stack does not back up", async () => {
            const outcome = await run([fx.pluginClusterPatch(), fx.scheduledBackup()], {
                inventory: [{ name: "keycloak-pg", namespace: "keycloak" }],
            });
            assert.deepStrictEqual(outcome.violations, [
                "inventory database keycloak/keycloak-pg has no backup configuration (Cluster or ClusterPatch with a backup target).",
                "inventory database keycloak/keycloak-pg has no ScheduledBackup.",
            ]);
            assert.deepStrictEqual(outcome.urns, [undefined, undefined]);
        });
    });
});
