import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import * as cnpg from "../cnpg";
import * as fx from "./fixtures";
import { changed, expectOne, sharedDir } from "./harness";

describe("cnpg policies", () => {
    describe("cnpg-scheduledbackup-six-field-schedule", () => {
        const policy = cnpg.cnpgScheduledBackupSixFieldSchedule;
        const schedule = ["props", "spec", "schedule"];
        it("passes six fields, seconds first", () => expectOne(policy, fx.scheduledBackup()));
        it("passes a descriptor", () => expectOne(policy, changed(fx.scheduledBackup(), schedule, "@daily")));
        it("fails five fields and says what CNPG makes of them", () =>
            expectOne(
                policy,
                changed(fx.scheduledBackup(), schedule, "0 2 * * *"),
                /five fields.*seconds field.*minute 2 of every hour.*Write "0 0 2 \* \* \*"/,
            ));
        it("fails seven fields", () => expectOne(policy, changed(fx.scheduledBackup(), schedule, "0 0 2 * * * 2026"), /7 fields/));
        it("fails non-cron text", () => expectOne(policy, changed(fx.scheduledBackup(), schedule, "0 0 2 * * %"), /not cron syntax/));
        it("fails a missing schedule", () => expectOne(policy, changed(fx.scheduledBackup(), schedule, undefined), /not set/));
    });

    describe("cnpg-cluster-retention-policy", () => {
        const policy = cnpg.cnpgClusterRetentionPolicy;
        const retention = ["props", "spec", "backup", "retentionPolicy"];
        it("passes an in-tree store with 30d", () => expectOne(policy, fx.inTreeClusterPatch()));
        it("fails an in-tree store without retention", () =>
            expectOne(policy, changed(fx.inTreeClusterPatch(), retention, undefined), /retentionPolicy is not/));
        it("fails a retention CNPG would reject", () =>
            expectOne(policy, changed(fx.inTreeClusterPatch(), retention, "30 days"), /not <n>d/));
        it("checks Cluster as well as ClusterPatch", () =>
            expectOne(
                policy,
                changed(changed(fx.inTreeClusterPatch(), ["type"], "kubernetes:postgresql.cnpg.io/v1:Cluster"), retention, undefined),
                /retentionPolicy is not\./,
            ));
        it("passes a plugin cluster (retention lives on its ObjectStore)", () => expectOne(policy, fx.pluginClusterPatch()));
        it("ignores a recovery cluster's externalClusters store", () =>
            expectOne(policy, {
                type: "kubernetes:postgresql.cnpg.io/v1:Cluster",
                props: {
                    metadata: { name: "example-db-recovered", namespace: "app-namespace" },
                    spec: {
                        bootstrap: { recovery: { source: "example-db-backup" } },
                        externalClusters: [
                            { name: "example-db-backup", barmanObjectStore: { destinationPath: "s3://rciis-cnpg-backups/example-db" } },
                        ],
                    },
                },
            }));
    });

    describe("cnpg-objectstore-retention-policy", () => {
        const policy = cnpg.cnpgObjectStoreRetentionPolicy;
        it("passes 30d", () => expectOne(policy, fx.objectStore()));
        it("fails a missing retention", () =>
            expectOne(policy, changed(fx.objectStore(), ["props", "spec", "retentionPolicy"], undefined), /not set/));
        it("fails 0d", () => expectOne(policy, changed(fx.objectStore(), ["props", "spec", "retentionPolicy"], "0d"), /not <n>d/));
    });

    describe("cnpg-cluster-in-tree-barman-deprecated", () => {
        const policy = cnpg.cnpgClusterInTreeBarmanDeprecated;
        it("passes a plugin cluster", () => expectOne(policy, fx.pluginClusterPatch()));
        it("flags spec.backup.barmanObjectStore", () => expectOne(policy, fx.inTreeClusterPatch(), /removed in 1\.31/));
    });

    it("uses the retention pattern of the CNPG and Barman Cloud CRDs", () => {
        const crds = path.join(sharedDir, "fixtures", "crds");
        const cluster = parse(fs.readFileSync(path.join(crds, "cnpg-1.30.0_postgresql.cnpg.io_clusters.yaml"), "utf8")) as unknown;
        const store = parse(
            fs.readFileSync(path.join(crds, "barman-cloud-0.14.0_barmancloud.cnpg.io_objectstores.yaml"), "utf8"),
        ) as unknown;
        const spec = (crd: unknown) =>
            (crd as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Schema } } } }[] } }).spec.versions[0].schema
                .openAPIV3Schema.properties.spec;
        type Schema = { properties: Record<string, Schema & { pattern?: string }> };
        assert.strictEqual(spec(cluster).properties.backup.properties.retentionPolicy.pattern, cnpg.RETENTION_PATTERN.source);
        assert.strictEqual(spec(store).properties.retentionPolicy.pattern, cnpg.RETENTION_PATTERN.source);
    });
});
