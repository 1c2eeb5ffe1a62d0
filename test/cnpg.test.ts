import * as assert from "assert";
import { type ValidateFunction } from "ajv";
import { crdValidator, owned, render, type Raw, type Rendered } from "./harness";

type Obj = Record<string, unknown>;
const T = {
    patch: "kubernetes:postgresql.cnpg.io/v1:ClusterPatch",
    cluster: "kubernetes:postgresql.cnpg.io/v1:Cluster",
    scheduled: "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup",
    store: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
};
const CLUSTERS = { "esb-postgres": "rciis-prod", "ss-postgres": "rciis-prod", "grafana-postgres": "monitoring", "keycloak-pg": "keycloak" };
const RGW = "http://rook-ceph-rgw-ceph-objectstore.rook-ceph.svc.cluster.local:80";
const CHECKSUM_ENV = [
    { name: "AWS_REQUEST_CHECKSUM_CALCULATION", value: "when_required" },
    { name: "AWS_RESPONSE_CHECKSUM_VALIDATION", value: "when_required" },
];
const SECRET_CREDS = {
    accessKeyId: { name: "cnpg-s3-credentials", key: "ACCESS_KEY_ID" },
    secretAccessKey: { name: "cnpg-s3-credentials", key: "ACCESS_SECRET_KEY" },
};
/** The namespace's read-only keys, which recoveries and drills read their source with (bare metal). */
const READER_CREDS = {
    accessKeyId: { name: "cnpg-s3-reader-credentials", key: "ACCESS_KEY_ID" },
    secretAccessKey: { name: "cnpg-s3-reader-credentials", key: "ACCESS_SECRET_KEY" },
};

const validators = {
    cluster: crdValidator("cnpg-1.30.0_postgresql.cnpg.io_clusters.yaml"),
    scheduled: crdValidator("cnpg-1.30.0_postgresql.cnpg.io_scheduledbackups.yaml"),
    store: crdValidator("barman-cloud-0.14.0_barmancloud.cnpg.io_objectstores.yaml"),
};
function assertValid(v: ValidateFunction, obj: unknown, what: string): void {
    assert.ok(v(obj), `${what}: ${JSON.stringify(v.errors, null, 1)}`);
}

/** What the API server holds after the patch: an application team's Cluster plus our fields. */
function applied(patch: { inputs: Obj }): Obj {
    const spec = patch.inputs.spec as Obj;
    return {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: { name: (patch.inputs.metadata as Obj).name },
        spec: { instances: 1, storage: { size: "1Gi" }, bootstrap: { initdb: { database: "app" } }, ...spec },
    };
}

const withMethod = (method: string) => (raw: Raw) => (raw.cnpg = { ...(raw.cnpg as Raw), method });

describe("cnpg backups", () => {
    const cases: Record<string, Rendered> = {};
    before(async () => {
        for (const stack of ["aws", "baremetal"]) {
            for (const method of ["plugin", "barmanObjectStore"]) cases[`${stack}/${method}`] = await render(stack, withMethod(method));
        }
    });

    for (const stack of ["aws", "baremetal"]) {
        for (const method of ["plugin", "barmanObjectStore"]) {
            it(`${stack}/${method}: every inventory cluster gets a patch and a six-field ScheduledBackup, valid against the CRDs`, () => {
                const r = cases[`${stack}/${method}`];
                for (const [name, ns] of Object.entries(CLUSTERS)) {
                    const patch = r.get(T.patch, `cnpg-${name}`);
                    assert.deepStrictEqual((patch.inputs.metadata as Obj).namespace, ns);
                    assertValid(validators.cluster, applied(patch), `${name} patch`);
                    const sb = r.get(T.scheduled, `cnpg-${name}-scheduled`);
                    assertValid(validators.scheduled, sb.inputs, `${name} ScheduledBackup`);
                    const spec = sb.inputs.spec as Obj;
                    assert.deepStrictEqual(
                        [spec.schedule, spec.immediate, spec.backupOwnerReference, spec.cluster, spec.method],
                        ["0 0 2 * * *", true, "self", { name }, method],
                    );
                    assert.strictEqual(String(spec.schedule).split(" ").length, 6);
                    assert.ok(sb.options.dependsOn?.includes(`kubernetes:postgresql.cnpg.io/v1:ClusterPatch::cnpg-${name}`));
                }
                assert.strictEqual(r.all(T.patch).length, 4);
                assert.strictEqual(r.all(T.store).length, method === "plugin" ? 4 : 0);
            });
        }
    }

    it("patches only the backup fields, as field manager backup-platform", () => {
        const patch = cases["baremetal/plugin"].get(T.patch, "cnpg-esb-postgres");
        assert.deepStrictEqual(patch.inputs.metadata, {
            name: "esb-postgres",
            namespace: "rciis-prod",
            annotations: { "pulumi.com/patchFieldManager": "backup-platform", "pulumi.com/patchForce": "true" },
        });
        assert.deepStrictEqual(Object.keys(patch.inputs.spec as Obj), ["plugins"]);
        const inTree = cases["baremetal/barmanObjectStore"].get(T.patch, "cnpg-esb-postgres");
        assert.deepStrictEqual(Object.keys(inTree.inputs.spec as Obj).sort(), ["backup", "env"]);
    });

    it("in-tree on bare metal: the seeds' stanza, endpoint, Secret credentials, checksum environment", () => {
        const spec = cases["baremetal/barmanObjectStore"].get(T.patch, "cnpg-ss-postgres").inputs.spec as Obj;
        assert.deepStrictEqual(spec.backup, {
            target: "prefer-standby",
            retentionPolicy: "30d",
            barmanObjectStore: {
                destinationPath: "s3://cnpg-backups/ss-postgres",
                endpointURL: RGW,
                s3Credentials: SECRET_CREDS,
                wal: { compression: "gzip", maxParallel: 2 },
                data: { compression: "gzip" },
            },
        });
        assert.deepStrictEqual(spec.env, CHECKSUM_ENV);
    });

    it("in-tree on AWS: inheritFromIAMRole and the cluster's own role on its service account", () => {
        const r = cases["aws/barmanObjectStore"];
        const spec = r.get(T.patch, "cnpg-keycloak-pg").inputs.spec as {
            backup: { barmanObjectStore: Obj };
            serviceAccountTemplate: Obj;
            env?: unknown;
        };
        assert.deepStrictEqual(spec.backup.barmanObjectStore.s3Credentials, { inheritFromIAMRole: true });
        assert.strictEqual(spec.backup.barmanObjectStore.destinationPath, "s3://rciis-cnpg-backups/keycloak-pg");
        assert.strictEqual(spec.backup.barmanObjectStore.endpointURL, undefined);
        assert.strictEqual(spec.env, undefined, "no checksum workaround on AWS S3");
        const role = r.get("aws:iam/role:Role", "backup-cnpg-keycloak-pg");
        assert.deepStrictEqual(spec.serviceAccountTemplate, {
            metadata: { annotations: { "eks.amazonaws.com/role-arn": `arn:aws:iam::123456789012:role/backup/${role.name}` } },
        });
        assert.ok(
            r
                .get(T.patch, "cnpg-keycloak-pg")
                .options.dependsOn?.includes("aws:iam/rolePolicyAttachment:RolePolicyAttachment::backup-cnpg-keycloak-pg"),
        );
    });

    it("plugin: an ObjectStore per cluster with the same destination, credentials, compression, retention", () => {
        const r = cases["baremetal/plugin"];
        const store = r.get(T.store, "cnpg-grafana-postgres-objectstore");
        assertValid(validators.store, store.inputs, "ObjectStore");
        assert.deepStrictEqual(store.inputs.metadata, {
            name: "grafana-postgres-backup",
            namespace: "monitoring",
            labels: { "app.kubernetes.io/part-of": "backup-platform" },
            annotations: owned("baremetal"),
        });
        assert.deepStrictEqual(store.inputs.spec, {
            retentionPolicy: "30d",
            configuration: {
                destinationPath: "s3://cnpg-backups/grafana-postgres",
                endpointURL: RGW,
                s3Credentials: SECRET_CREDS,
                wal: { compression: "gzip", maxParallel: 2 },
                data: { compression: "gzip" },
            },
            instanceSidecarConfiguration: { env: CHECKSUM_ENV },
        });
        const patch = r.get(T.patch, "cnpg-grafana-postgres");
        assert.deepStrictEqual((patch.inputs.spec as Obj).plugins, [
            { name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: "grafana-postgres-backup" } },
        ]);
        assert.ok(patch.options.dependsOn?.includes("kubernetes:barmancloud.cnpg.io/v1:ObjectStore::cnpg-grafana-postgres-objectstore"));
        const sb = r.get(T.scheduled, "cnpg-grafana-postgres-scheduled").inputs.spec as Obj;
        assert.deepStrictEqual(sb.pluginConfiguration, { name: "barman-cloud.cloudnative-pg.io" });
        const awsStore = cases["aws/plugin"].get(T.store, "cnpg-grafana-postgres-objectstore").inputs.spec as { configuration: Obj };
        assert.deepStrictEqual(awsStore.configuration.s3Credentials, { inheritFromIAMRole: true });
        assert.ok(!("instanceSidecarConfiguration" in awsStore));
    });

    it("adds the endpoint CA for https endpoints, once per namespace", async () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const r = await render("baremetal", (raw) =>
            Object.assign(raw.baremetal as Raw, { endpoint: "https://rgw.internal:443", caBundle: pem }),
        );
        const cfg = (r.get(T.store, "cnpg-esb-postgres-objectstore").inputs.spec as { configuration: Obj }).configuration;
        assert.deepStrictEqual(cfg.endpointCA, { name: "backup-endpoint-ca", key: "ca.crt" });
        const secrets = r.all("kubernetes:core/v1:Secret").filter((s) => (s.inputs.metadata as Obj).name === "backup-endpoint-ca");
        assert.deepStrictEqual(secrets.map((s) => (s.inputs.metadata as Obj).namespace).sort(), ["keycloak", "monitoring", "rciis-prod"]);
    });

    it("uses the configured six-field schedule and retention", async () => {
        const r = await render("baremetal", (raw) => Object.assign(raw, { retention: "14d", cnpg: { schedule: "0 30 1 * * *" } }));
        assert.strictEqual((r.get(T.scheduled, "cnpg-esb-postgres-scheduled").inputs.spec as Obj).schedule, "0 30 1 * * *");
        assert.strictEqual((r.get(T.store, "cnpg-esb-postgres-objectstore").inputs.spec as Obj).retentionPolicy, "14d");
    });

    describe("point-in-time recovery", () => {
        const recovery = {
            from: "esb-postgres",
            name: "esb-postgres-recovered",
            targetTime: "2026-02-17T12:00:00Z",
            imageCatalog: { name: "postgresql-17", major: 17 },
        };
        const withRecovery = (method: string) => (raw: Raw) => (raw.cnpg = { method, recoveries: [recovery] });

        it("in-tree: bootstraps from the source's archive with read-only keys and archives under its own prefix", async () => {
            const r = await render("baremetal", withRecovery("barmanObjectStore"));
            const cluster = r.get(T.cluster, "cnpg-esb-postgres-recovered-recovery");
            assertValid(validators.cluster, cluster.inputs, "recovery Cluster");
            const spec = cluster.inputs.spec as Obj;
            assert.deepStrictEqual(spec.bootstrap, {
                recovery: { source: "esb-postgres-origin", recoveryTarget: { targetTime: "2026-02-17T12:00:00Z" } },
            });
            assert.deepStrictEqual(spec.externalClusters, [
                {
                    name: "esb-postgres-origin",
                    barmanObjectStore: {
                        destinationPath: "s3://cnpg-backups/esb-postgres",
                        endpointURL: RGW,
                        serverName: "esb-postgres",
                        s3Credentials: READER_CREDS,
                        wal: { compression: "gzip", maxParallel: 4 },
                        data: { compression: "gzip" },
                    },
                },
            ]);
            const own = (spec.backup as { barmanObjectStore: Obj }).barmanObjectStore;
            assert.strictEqual(own.destinationPath, "s3://cnpg-backups/esb-postgres-recovered");
            assert.deepStrictEqual(own.s3Credentials, SECRET_CREDS, "it archives with its namespace's writer");
            assert.ok(cluster.options.dependsOn?.includes("kubernetes:core/v1:Secret::backup-reader-rciis-prod"));
            assert.deepStrictEqual(spec.imageCatalogRef, {
                apiGroup: "postgresql.cnpg.io",
                kind: "ImageCatalog",
                name: "postgresql-17",
                major: 17,
            });
            assert.deepStrictEqual(spec.storage, { size: "10Gi" });
            assert.deepStrictEqual((cluster.inputs.metadata as Obj).namespace, "rciis-prod");
            assert.strictEqual(cluster.options.retainOnDelete, true, "a recovered cluster holds data");
            assert.strictEqual(r.all(T.scheduled).length, 4, "recovery clusters get no ScheduledBackup of their own");
        });

        it("plugin: reads through an ObjectStore of its own with read-only keys, writes through its own archive's", async () => {
            const r = await render("baremetal", withRecovery("plugin"));
            const cluster = r.get(T.cluster, "cnpg-esb-postgres-recovered-recovery");
            assertValid(validators.cluster, cluster.inputs, "recovery Cluster");
            const spec = cluster.inputs.spec as Obj;
            assert.deepStrictEqual(spec.externalClusters, [
                {
                    name: "esb-postgres-origin",
                    plugin: {
                        name: "barman-cloud.cloudnative-pg.io",
                        parameters: { barmanObjectName: "esb-postgres-recovered-source", serverName: "esb-postgres" },
                    },
                },
            ]);
            assert.deepStrictEqual(spec.plugins, [
                {
                    name: "barman-cloud.cloudnative-pg.io",
                    isWALArchiver: true,
                    parameters: { barmanObjectName: "esb-postgres-recovered-backup" },
                },
            ]);
            const own = r.get(T.store, "cnpg-esb-postgres-recovered-objectstore").inputs.spec as { configuration: Obj };
            assert.strictEqual(own.configuration.destinationPath, "s3://cnpg-backups/esb-postgres-recovered");
            assert.deepStrictEqual(own.configuration.s3Credentials, SECRET_CREDS);
            const source = r.get(T.store, "cnpg-esb-postgres-recovered-source");
            assertValid(validators.store, source.inputs, "source ObjectStore");
            assert.deepStrictEqual(
                [(source.inputs.metadata as Obj).name, (source.inputs.metadata as Obj).namespace],
                ["esb-postgres-recovered-source", "rciis-prod"],
            );
            const read = source.inputs.spec as { configuration: Obj; retentionPolicy?: string; instanceSidecarConfiguration: Obj };
            assert.strictEqual(read.configuration.destinationPath, "s3://cnpg-backups/esb-postgres");
            assert.deepStrictEqual(read.configuration.s3Credentials, READER_CREDS, "never the source's writer keys");
            // The plugin prunes through a cluster's archiving store only, and these keys cannot delete; the policy pack wants one.
            assert.strictEqual(read.retentionPolicy, "30d");
            assert.deepStrictEqual(read.instanceSidecarConfiguration, { env: CHECKSUM_ENV });
            assert.ok(cluster.options.dependsOn?.includes(`${T.store}::cnpg-esb-postgres-recovered-source`));
        });

        it("on AWS the recovery cluster's role reads the source prefix and writes only its own", async () => {
            const r = await render("aws", withRecovery("plugin"));
            const stmts = (
                JSON.parse(r.get("aws:iam/policy:Policy", "backup-cnpg-esb-postgres-recovered").inputs.policy as string) as {
                    Statement: { Action: string[]; Resource: string | string[] }[];
                }
            ).Statement;
            const writes = stmts.filter((s) => [s.Action].flat().includes("s3:PutObject")).flatMap((s) => [s.Resource].flat());
            assert.deepStrictEqual(writes, ["arn:aws:s3:::rciis-cnpg-backups/esb-postgres-recovered/*"]);
            const reads = stmts.filter((s) => [s.Action].flat().includes("s3:GetObject")).flatMap((s) => [s.Resource].flat());
            assert.ok(reads.includes("arn:aws:s3:::rciis-cnpg-backups/esb-postgres/*"));
            // Its pods read as its own role, so the source's ObjectStore (which names no keys) serves it.
            assert.deepStrictEqual(
                (r.get(T.cluster, "cnpg-esb-postgres-recovered-recovery").inputs.spec as { externalClusters: { plugin: Obj }[] })
                    .externalClusters[0].plugin.parameters,
                { barmanObjectName: "esb-postgres-backup", serverName: "esb-postgres" },
            );
            assert.ok(!r.all(T.store).some((s) => s.name.endsWith("-source")));
        });

        const bad: [string, Obj, RegExp][] = [
            ["a future target time", { targetTime: "2999-01-01T00:00:00Z" }, /backup:cnpg\.recoveries\[0\]\.targetTime: .*in the future/],
            ["a target time without zone", { targetTime: "2026-02-17 12:00:00" }, /backup:cnpg\.recoveries\[0\]\.targetTime: .*RFC 3339/],
            [
                "an unknown source",
                { from: "nope" },
                /backup:cnpg\.recoveries\[0\]\.from: "nope" is not in backup:postgres; allowed: esb-postgres/,
            ],
            [
                "a name already taken",
                { name: "ss-postgres" },
                /backup:cnpg\.recoveries\[0\]\.name: "ss-postgres" is already a cluster name/,
            ],
            ["no image", { imageCatalog: undefined }, /give exactly one of imageName or imageCatalog/],
            [
                "a latest image",
                { imageCatalog: undefined, imageName: "ghcr.io/cloudnative-pg/postgresql:latest" },
                /pinned to a version, not :latest/,
            ],
        ];
        for (const [what, change, message] of bad) {
            it(`rejects ${what}`, async () => {
                await assert.rejects(
                    () => render("baremetal", (raw) => (raw.cnpg = { recoveries: [{ ...recovery, ...change }] })),
                    message,
                );
            });
        }
    });
});

describe("CRD schema validation itself", () => {
    it("rejects what the API server would reject", () => {
        const sb = {
            apiVersion: "postgresql.cnpg.io/v1",
            kind: "ScheduledBackup",
            metadata: { name: "x" },
            spec: { schedule: "0 0 2 * * *", cluster: { name: "x" }, method: "pgdump" },
        };
        assert.ok(!validators.scheduled(sb), "unknown method accepted");
        const store = {
            apiVersion: "barmancloud.cnpg.io/v1",
            kind: "ObjectStore",
            metadata: { name: "x" },
            spec: { retentionPolicy: "30d" },
        };
        assert.ok(!validators.store(store), "ObjectStore without configuration accepted");
        const cluster = {
            apiVersion: "postgresql.cnpg.io/v1",
            kind: "Cluster",
            metadata: { name: "x" },
            spec: { instances: "three", storage: { size: "1Gi" } },
        };
        assert.ok(!validators.cluster(cluster), "string instances accepted");
    });
});
