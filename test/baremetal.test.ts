import * as assert from "assert";
import { clone, owned, render, type Raw, type Rendered } from "./harness";
import { accessTable, allows, bucketPolicies, README_ACCESS_EXAMPLE, readmeAccessTable, type AccessRow } from "./rgw-policy";

const T = {
    user: "kubernetes:ceph.rook.io/v1:CephObjectStoreUser",
    obc: "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim",
    secret: "kubernetes:core/v1:Secret",
    sc: "kubernetes:storage.k8s.io/v1:StorageClass",
};

type Obj = Record<string, unknown>;
const spec = (r: { inputs: Obj }) => r.inputs.spec as Obj;
const meta = (r: { inputs: Obj }) => r.inputs.metadata as Obj;
const additional = (r: { inputs: Obj }) => spec(r).additionalConfig as Record<string, string>;
/** Mock random results are derived from the resource name: this is the value each key resource yields. */
const mockKey = (resource: string, length: number) =>
    resource
        .replace(/[^A-Za-z0-9]/g, "")
        .padEnd(length, "0")
        .slice(0, length);

describe("baremetal stack", () => {
    let r: Rendered;
    before(async () => {
        r = await render("baremetal");
    });

    it("creates Velero's and SQL Server's users and a CNPG writer per database namespace, without admin capabilities, keyed from program-owned Secrets", () => {
        const keyed: Record<string, string> = {
            "backup-velero": "backup-velero",
            "backup-mssql": "backup-mssql",
            "backup-cnpg-rciis-prod": "backup-user-cnpg-rciis-prod",
            "backup-cnpg-monitoring": "backup-user-cnpg-monitoring",
            "backup-cnpg-keycloak": "backup-user-cnpg-keycloak",
        };
        for (const [uid, id] of Object.entries(keyed)) {
            const user = r.get(T.user, `${id}-user`);
            assert.deepStrictEqual(meta(user), { name: uid, namespace: "rook-ceph", annotations: owned("baremetal") });
            const s = spec(user);
            assert.strictEqual(s.store, "ceph-objectstore");
            assert.strictEqual(s.capabilities, undefined, "a backup writer needs no admin capabilities");
            assert.deepStrictEqual(s.keys, [
                {
                    accessKeyRef: { name: `${uid}-s3-keys`, key: "access-key" },
                    secretKeyRef: { name: `${uid}-s3-keys`, key: "secret-key" },
                },
            ]);
            const keys = r.get(T.secret, `${id}-keys`);
            assert.deepStrictEqual(meta(keys).namespace, "rook-ceph");
            assert.strictEqual(keys.inputs.stringData, "[secret]");
            assert.ok(user.options.dependsOn?.includes(`kubernetes:core/v1:Secret::${id}-keys`));
        }
        assert.deepStrictEqual(
            r
                .all(T.user)
                .map((u) => meta(u).name)
                .sort(),
            [...Object.keys(keyed), "backup-owner"].sort(),
            "no shared backup-cnpg user any more; no reader without drills or recoveries",
        );
    });

    it("owns every bucket by a dedicated user whose keys Rook keeps in the object-store namespace", () => {
        const owner = r.get(T.user, "backup-owner-user");
        assert.deepStrictEqual(meta(owner), { name: "backup-owner", namespace: "rook-ceph", annotations: owned("baremetal") });
        assert.deepStrictEqual(spec(owner), { store: "ceph-objectstore", displayName: "Backup bucket owner (no consumer holds its keys)" });
        assert.strictEqual(owner.options.retainOnDelete, true);
        // No program key material: nothing the program delivers can carry the owner's keys.
        assert.ok(!r.resources.some((x) => x.name.includes("owner") && x.type !== T.user), "no keys, no Secret for the owner");
        for (const [bucket, { owner: uid, policy }] of bucketPolicies(r)) {
            assert.strictEqual(uid, "backup-owner", bucket);
            assert.ok(!JSON.stringify(policy).includes("user/backup-owner"), `${bucket}: the owner needs no grant`);
            assert.ok(r.get(T.obc, `backup-bucket-${bucket}`).options.dependsOn?.includes(`${T.user}::backup-owner-user`));
        }
    });

    it("claims each bucket through a Retain StorageClass, after the users its policy names, with sorted lifecycle rules", () => {
        const sc = r.get(T.sc, "backup-buckets").inputs;
        assert.strictEqual(sc.reclaimPolicy, "Retain");
        assert.deepStrictEqual(sc.parameters, {
            objectStoreName: "ceph-objectstore",
            objectStoreNamespace: "rook-ceph",
            region: "rciis-kenya",
        });
        const expected: Record<string, [string, string, number]> = {
            "velero-backups": ["backup-velero-user", "backups/", 98],
            "cnpg-backups": ["backup-user-cnpg-rciis-prod-user", "", 38],
            "mssql-backups": ["backup-mssql-user", "mssql/", 38],
        };
        for (const [bucket, [user, prefix, days]] of Object.entries(expected)) {
            const obc = r.get(T.obc, `backup-bucket-${bucket}`);
            assert.strictEqual(spec(obc).bucketName, bucket);
            assert.strictEqual(spec(obc).storageClassName, "backup-buckets");
            const cfg = additional(obc);
            assert.strictEqual(cfg.bucketOwner, "backup-owner");
            const rules = (
                JSON.parse(cfg.bucketLifecycle) as { Rules: { ID: string; Filter: { Prefix: string }; Expiration?: { Days?: number } }[] }
            ).Rules;
            const ids = rules.map((x) => x.ID);
            assert.deepStrictEqual(ids, [...ids].sort(), "Rook needs rules sorted by ID");
            const expiring = rules.find((x) => x.Expiration?.Days !== undefined && x.Filter.Prefix === prefix);
            assert.strictEqual(expiring?.Expiration?.Days, days, bucket);
            assert.ok(obc.options.dependsOn?.includes(`kubernetes:ceph.rook.io/v1:CephObjectStoreUser::${user}`));
        }
    });

    it("in a bucket cnpg and mssql share, lets no key touch another's prefix: SQL Server's backups are safe from every CNPG key", async () => {
        const shared = await render("baremetal", (raw) => (((raw.baremetal as Raw).buckets as Raw).mssql = "cnpg-backups"));
        assert.strictEqual(shared.all(T.obc).length, 2);
        const cfg = additional(shared.get(T.obc, "backup-bucket-cnpg-backups"));
        assert.strictEqual(cfg.bucketOwner, "backup-owner", "no consumer owns the shared bucket: an RGW owner ignores the policy");
        const yes = { list: true, get: true, put: true, delete: true, multipart: false };
        const mssql = { list: true, get: true, put: true, delete: false, multipart: true };
        const row = (user: string, prefix: string, rights: AccessRow["rights"]): AccessRow => ({
            user,
            bucket: "cnpg-backups",
            prefix,
            rights,
        });
        // Listing is bucket-wide for the CNPG keys (barman-cloud); what matters is who may read, write or delete where.
        const acting = (x: AccessRow) => x.rights.get || x.rights.put || x.rights.delete || x.rights.multipart;
        const table = accessTable(shared).filter((x) => x.bucket === "cnpg-backups");
        for (const x of table.filter((y) => y.user.startsWith("backup-cnpg-") && y.prefix.startsWith("mssql")))
            assert.ok(!acting(x), `${x.user} may act on ${x.prefix}`);
        assert.deepStrictEqual(
            table.filter((x) => acting(x) || x.user === "backup-mssql"),
            [
                row("backup-cnpg-keycloak", "keycloak-pg", yes),
                row("backup-cnpg-monitoring", "grafana-postgres", yes),
                row("backup-cnpg-rciis-prod", "esb-postgres", yes),
                row("backup-cnpg-rciis-prod", "ss-postgres", yes),
                // SQL Server lists its folder and writes only its databases' prefixes; it never deletes (the lifecycle does).
                row("backup-mssql", "mssql", { ...mssql, get: false, put: false, multipart: false }),
                row("backup-mssql", "mssql/rciis-prod/RCIIS", mssql),
            ],
        );
        const rules = (JSON.parse(cfg.bucketLifecycle) as { Rules: { ID: string; Filter: { Prefix: string } }[] }).Rules;
        // Shared: each writer's objects expire by their own prefix, never the whole bucket.
        assert.deepStrictEqual(
            rules.filter((x) => x.ID.startsWith("expire-cnpg") || x.ID === "expire-mssql").map((x) => x.Filter.Prefix),
            ["esb-postgres/", "grafana-postgres/", "keycloak-pg/", "ss-postgres/", "mssql/"],
        );
    });

    it("keeps Velero under its prefix in a shared bucket: it lists the bucket (HeadObject needs it) and touches only its prefix", async () => {
        const shared = await render("baremetal", (raw) => {
            ((raw.baremetal as Raw).buckets as Raw).velero = "cnpg-backups";
            raw.velero = { ...(raw.velero as Raw | undefined), prefix: "velero" };
        });
        const velero = accessTable(shared).filter((x) => x.user === "backup-velero");
        const all = { list: true, get: true, put: true, delete: true, multipart: true };
        const acting = velero.filter((x) => x.rights.get || x.rights.put || x.rights.delete || x.rights.multipart);
        assert.deepStrictEqual(
            acting.map((x) => [x.bucket, x.prefix, x.rights]),
            [["cnpg-backups", "velero", all]],
            JSON.stringify(velero),
        );
        assert.ok(
            velero.every((x) => x.rights.list),
            "Velero may list every prefix: S3 and RGW answer a missing key with 403 otherwise",
        );
    });

    it("renders exactly the README's access table: user x bucket x prefix x list/get/put/delete/multipart", async () => {
        // The README's example: the stack file with restore drills, a recovery and the off-site copy on.
        const full = await render("baremetal", (raw) => {
            raw.drills = README_ACCESS_EXAMPLE.drills;
            raw.cnpg = { ...(raw.cnpg as Raw), recoveries: README_ACCESS_EXAMPLE.recoveries };
            raw.offsite = README_ACCESS_EXAMPLE.offsite;
        });
        assert.deepStrictEqual(accessTable(full), readmeAccessTable());
        // Every user the table names may find its bucket's region, and no one else.
        for (const [bucket, { policy }] of bucketPolicies(full)) {
            const named = new Set(
                accessTable(full)
                    .filter((x) => x.bucket === bucket)
                    .map((x) => x.user),
            );
            const located = (user: string) => allows(policy, user, "s3:GetBucketLocation", `arn:aws:s3:::${bucket}`);
            // HeadBucket, which barman-cloud and velero call: RGW checks it as s3:ListBucket without s3:prefix.
            const exists = (user: string) => allows(policy, user, "s3:ListBucket", `arn:aws:s3:::${bucket}`);
            for (const user of [...named, "backup-owner", "backup-cnpg"]) {
                assert.strictEqual(located(user), named.has(user), `${user} on ${bucket}`);
                assert.strictEqual(exists(user), named.has(user), `HeadBucket: ${user} on ${bucket}`);
            }
        }
    });

    it("lets a namespace's CNPG key reach only its own clusters' archives", () => {
        const policy = bucketPolicies(r).get("cnpg-backups")?.policy ?? [];
        const obj = (cluster: string) => `arn:aws:s3:::cnpg-backups/${cluster}/base/x`;
        for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]) {
            assert.ok(allows(policy, "backup-cnpg-rciis-prod", action, obj("esb-postgres")), action);
            assert.ok(
                !allows(policy, "backup-cnpg-monitoring", action, obj("esb-postgres")),
                `monitoring's key: ${action} on rciis-prod's archive`,
            );
            assert.ok(!allows(policy, "backup-cnpg-rciis-prod", action, obj("grafana-postgres")), action);
        }
        // barman-cloud needs the bucket listed (e2e/pitr against RGW): key names are visible bucket-wide, contents are not.
        assert.ok(allows(policy, "backup-cnpg-monitoring", "s3:ListBucket", "arn:aws:s3:::cnpg-backups", undefined), "HeadBucket");
    });

    it("refuses consumers that would write under the same prefix of a shared bucket", async () => {
        await assert.rejects(
            () =>
                render("baremetal", (raw) => {
                    ((raw.baremetal as Raw).buckets as Raw).velero = "cnpg-backups";
                    (raw.postgres as Raw[])[0].name = "backups";
                }),
            /velero and cnpg share bucket "cnpg-backups" and would both write under "backups\/"/,
        );
    });

    it("delivers each user's keys to its consumers in their formats, in every namespace that needs them", async () => {
        const revealed = await render("baremetal", undefined, true);
        const data = (name: string) => (revealed.get(T.secret, name).inputs.stringData as { secret: Record<string, string> }).secret;
        const velero = revealed.get(T.secret, "backup-velero-velero");
        assert.deepStrictEqual(meta(velero).namespace, "velero");
        assert.strictEqual(meta(velero).name, "velero-s3-credentials");
        assert.strictEqual(
            data("backup-velero-velero").cloud,
            `[default]\naws_access_key_id=${mockKey("backup-velero-access-key", 20)}\naws_secret_access_key=${mockKey("backup-velero-secret-key", 40)}\n`,
        );
        for (const ns of ["rciis-prod", "monitoring", "keycloak"]) {
            const s = revealed.get(T.secret, `backup-cnpg-${ns}`);
            assert.deepStrictEqual([meta(s).name, meta(s).namespace], ["cnpg-s3-credentials", ns]);
            // Each namespace gets its own writer's keys, never another namespace's.
            assert.deepStrictEqual(data(`backup-cnpg-${ns}`), {
                ACCESS_KEY_ID: mockKey(`backup-user-cnpg-${ns}-access-key`, 20),
                ACCESS_SECRET_KEY: mockKey(`backup-user-cnpg-${ns}-secret-key`, 40),
            });
        }
        assert.deepStrictEqual(data("backup-mssql-rciis-prod"), {
            AWS_ACCESS_KEY_ID: mockKey("backup-mssql-access-key", 20),
            AWS_SECRET_ACCESS_KEY: mockKey("backup-mssql-secret-key", 40),
        });
        // The velero Secret waits for the namespace this program creates.
        assert.ok(velero.options.dependsOn?.includes("kubernetes:core/v1:Namespace::velero"));
    });

    it("has recoveries and drills read their source with their namespace's read-only keys, in a Secret of its own", async () => {
        for (const method of ["barmanObjectStore", "plugin"]) {
            const x = await render(
                "baremetal",
                (raw) => {
                    raw.drills = { enabled: true };
                    raw.cnpg = {
                        ...(raw.cnpg as Raw),
                        method,
                        recoveries: [
                            { from: "esb-postgres", name: "esb-postgres-recovered", imageCatalog: { name: "postgresql-17", major: 17 } },
                        ],
                    };
                },
                true,
            );
            const reader = x.get(T.secret, "backup-reader-rciis-prod");
            assert.deepStrictEqual([meta(reader).name, meta(reader).namespace], ["cnpg-s3-reader-credentials", "rciis-prod"]);
            assert.strictEqual((meta(reader).labels as Obj)["backup.platform/access"], "read-only");
            assert.deepStrictEqual((reader.inputs.stringData as { secret: Obj }).secret, {
                ACCESS_KEY_ID: mockKey("backup-user-reader-rciis-prod-access-key", 20),
                ACCESS_SECRET_KEY: mockKey("backup-user-reader-rciis-prod-secret-key", 40),
            });
            const readerCreds = {
                accessKeyId: { name: "cnpg-s3-reader-credentials", key: "ACCESS_KEY_ID" },
                secretAccessKey: { name: "cnpg-s3-reader-credentials", key: "ACCESS_SECRET_KEY" },
            };
            const recovery = spec(x.get("kubernetes:postgresql.cnpg.io/v1:Cluster", "cnpg-esb-postgres-recovered-recovery"));
            const template = JSON.parse(
                (x.get("kubernetes:core/v1:ConfigMap", "drills-esb-postgres-template").inputs.data as Obj)["template.json"] as string,
            ) as {
                spec: Obj;
            };
            // How each reading cluster reaches the archive: the in-tree stanza, or the ObjectStore it names.
            const store = (reading: Obj, storeResource: string) => {
                const [origin] = reading.externalClusters as {
                    barmanObjectStore?: Obj;
                    plugin?: { parameters: { barmanObjectName: string } };
                }[];
                if (method === "barmanObjectStore") return origin.barmanObjectStore as Obj;
                const s = x.get("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", storeResource);
                assert.strictEqual(origin.plugin?.parameters.barmanObjectName, meta(s).name);
                assert.strictEqual(spec(s).retentionPolicy, "30d", "inert (read-only keys), required by the policy pack");
                return spec(s).configuration as Obj;
            };
            for (const [what, reading, storeResource] of [
                ["recovery", recovery, "cnpg-esb-postgres-recovered-source"],
                ["drill", template.spec, "drills-esb-postgres-source"],
            ] as const) {
                const barman = store(reading, storeResource);
                assert.strictEqual(barman.destinationPath, "s3://cnpg-backups/esb-postgres", `${method} ${what}`);
                assert.deepStrictEqual(barman.s3Credentials, readerCreds, `${method} ${what}: never the writer's keys`);
            }
            // The recovery still archives with its namespace's writer, under its own prefix.
            const own =
                method === "plugin"
                    ? spec(x.get("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "cnpg-esb-postgres-recovered-objectstore")).configuration
                    : ((recovery.backup as Obj).barmanObjectStore as Obj);
            assert.deepStrictEqual((own as Obj).s3Credentials, {
                accessKeyId: { name: "cnpg-s3-credentials", key: "ACCESS_KEY_ID" },
                secretAccessKey: { name: "cnpg-s3-credentials", key: "ACCESS_SECRET_KEY" },
            });
            assert.deepStrictEqual((clone(x.outputs) as { objectUsers: Obj }).objectUsers.cnpgReaders, {
                keycloak: "backup-reader-keycloak",
                monitoring: "backup-reader-monitoring",
                "rciis-prod": "backup-reader-rciis-prod",
            });
        }
    });

    it("generates keys SQL Server can use: letters and digits only, secret", () => {
        // A RandomPassword, not a RandomString: a RandomString's ID is its value, in plaintext in the state.
        assert.strictEqual(r.all("random:index/randomString:RandomString").length, 0);
        for (const key of r.all("random:index/randomPassword:RandomPassword")) {
            assert.strictEqual(key.inputs.special, false, key.name);
            assert.ok(key.options.additionalSecretOutputs?.includes("result"), key.name);
        }
        const access = r.get("random:index/randomPassword:RandomPassword", "backup-mssql-access-key");
        assert.deepStrictEqual([access.inputs.special, access.inputs.lower, access.inputs.length], [false, false, 20]);
        assert.ok(access.options.additionalSecretOutputs?.includes("result"));
        const secret = r.get("random:index/randomPassword:RandomPassword", "backup-mssql-secret-key");
        assert.deepStrictEqual([secret.inputs.special, secret.inputs.length], [false, 40]);
    });

    it("keeps users, key Secrets and bucket claims on destroy; protects them when asked; lets the user opt out", async () => {
        const stateful = (x: Rendered) => [...x.all(T.user), ...x.all(T.obc), ...x.all(T.secret).filter((s) => s.name.endsWith("-keys"))];
        // Users: owner, velero, mssql, three CNPG writers; keys of all but the owner; three claims.
        assert.strictEqual(stateful(r).length, 14);
        for (const res of stateful(r))
            assert.deepStrictEqual([res.name, res.options.retainOnDelete, res.options.protect], [res.name, true, undefined]);
        const prot = await render("baremetal", (raw) => (raw.dataSafety = { protect: true }));
        for (const res of stateful(prot))
            assert.deepStrictEqual([res.name, res.options.retainOnDelete, res.options.protect], [res.name, true, true]);
        const optOut = await render("baremetal", (raw) => (raw.dataSafety = { retainOnDelete: false }));
        for (const res of stateful(optOut)) assert.strictEqual(res.options.retainOnDelete, undefined, res.name);
    });

    it("names every resource by consumer and database, so reordering the inventory changes nothing", async () => {
        const reordered = await render("baremetal", (raw) => (raw.postgres as Raw[]).reverse());
        const view = (x: Rendered) => JSON.stringify(x.resources.map((res) => [res.type, res.name, res.inputs]));
        assert.strictEqual(view(reordered), view(r));
    });

    it("skips consumers with nothing to back up", async () => {
        const minimal = await render("baremetal", (raw) => {
            raw.postgres = [];
            raw.mssql = [];
        });
        assert.deepStrictEqual(
            minimal.all(T.user).map((u) => u.name),
            ["backup-owner-user", "backup-velero-user"],
        );
        assert.deepStrictEqual(
            minimal.all(T.obc).map((u) => u.name),
            ["backup-bucket-velero-backups"],
        );
    });

    it("outputs where each consumer's backups go and which Secret holds its credentials, with no key material", () => {
        const out = clone(r.outputs) as { postgres: Record<string, Obj>; velero: Obj; mssql: Record<string, Obj> };
        assert.deepStrictEqual(out.postgres["grafana-postgres"], {
            bucket: "cnpg-backups",
            prefix: "grafana-postgres",
            endpoint: "http://rook-ceph-rgw-ceph-objectstore.rook-ceph.svc.cluster.local:80",
            region: "rciis-kenya",
            credentialsSecret: "monitoring/cnpg-s3-credentials",
            destination: "s3://cnpg-backups/grafana-postgres",
            method: "plugin",
            scheduledBackup: "monitoring/grafana-postgres-base-backup",
        });
        assert.strictEqual(out.mssql["rciis-prod/RCIIS"].endpoint, "https://s3.rciis.africa");
        assert.deepStrictEqual((clone(r.outputs) as { objectUsers: Obj }).objectUsers, {
            owner: "backup-owner",
            velero: "backup-velero",
            mssql: "backup-mssql",
            cnpg: { keycloak: "backup-cnpg-keycloak", monitoring: "backup-cnpg-monitoring", "rciis-prod": "backup-cnpg-rciis-prod" },
            cnpgReaders: {},
        });
        assert.ok(!JSON.stringify(r.outputs).includes(mockKey("backup-velero-secret-key", 40)));
    });
});
