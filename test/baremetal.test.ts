import * as assert from "assert";
import { clone, owned, render, type Raw, type Rendered } from "./harness";

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

    it("creates one object user per consumer, without admin capabilities, keyed from a program-owned Secret", () => {
        for (const consumer of ["velero", "cnpg", "mssql"]) {
            const user = r.get(T.user, `backup-${consumer}-user`);
            assert.deepStrictEqual(meta(user), { name: `backup-${consumer}`, namespace: "rook-ceph", annotations: owned("baremetal") });
            const s = spec(user);
            assert.strictEqual(s.store, "ceph-objectstore");
            assert.strictEqual(s.capabilities, undefined, "a backup writer needs no admin capabilities");
            assert.deepStrictEqual(s.keys, [
                {
                    accessKeyRef: { name: `backup-${consumer}-s3-keys`, key: "access-key" },
                    secretKeyRef: { name: `backup-${consumer}-s3-keys`, key: "secret-key" },
                },
            ]);
            const keys = r.get(T.secret, `backup-${consumer}-keys`);
            assert.deepStrictEqual(meta(keys).namespace, "rook-ceph");
            assert.strictEqual(keys.inputs.stringData, "[secret]");
            assert.ok(user.options.dependsOn?.includes(`kubernetes:core/v1:Secret::backup-${consumer}-keys`));
        }
        assert.strictEqual(r.all(T.user).length, 3);
    });

    it("claims each bucket through a Retain StorageClass, owned by its consumer's user, with sorted lifecycle rules", () => {
        const sc = r.get(T.sc, "backup-buckets").inputs;
        assert.strictEqual(sc.reclaimPolicy, "Retain");
        assert.deepStrictEqual(sc.parameters, {
            objectStoreName: "ceph-objectstore",
            objectStoreNamespace: "rook-ceph",
            region: "rciis-kenya",
        });
        const expected: Record<string, [string, string, number]> = {
            "velero-backups": ["backup-velero", "backups/", 98],
            "cnpg-backups": ["backup-cnpg", "", 38],
            "mssql-backups": ["backup-mssql", "mssql/", 38],
        };
        for (const [bucket, [owner, prefix, days]] of Object.entries(expected)) {
            const obc = r.get(T.obc, `backup-bucket-${bucket}`);
            assert.strictEqual(spec(obc).bucketName, bucket);
            assert.strictEqual(spec(obc).storageClassName, "backup-buckets");
            const cfg = additional(obc);
            assert.strictEqual(cfg.bucketOwner, owner);
            assert.strictEqual(cfg.bucketPolicy, undefined, "a bucket with one user needs no policy");
            const rules = (
                JSON.parse(cfg.bucketLifecycle) as { Rules: { ID: string; Filter: { Prefix: string }; Expiration?: { Days?: number } }[] }
            ).Rules;
            const ids = rules.map((x) => x.ID);
            assert.deepStrictEqual(ids, [...ids].sort(), "Rook needs rules sorted by ID");
            const expiring = rules.find((x) => x.Expiration?.Days !== undefined && x.Filter.Prefix === prefix);
            assert.strictEqual(expiring?.Expiration?.Days, days, bucket);
            assert.ok(obc.options.dependsOn?.includes(`kubernetes:ceph.rook.io/v1:CephObjectStoreUser::${owner}-user`));
        }
    });

    it("writes a bucket policy when consumers share a bucket, granting each only its prefix", async () => {
        const shared = await render("baremetal", (raw) => (((raw.baremetal as Raw).buckets as Raw).mssql = "cnpg-backups"));
        assert.strictEqual(shared.all(T.obc).length, 2);
        const cfg = additional(shared.get(T.obc, "backup-bucket-cnpg-backups"));
        assert.strictEqual(cfg.bucketOwner, "backup-cnpg");
        const policy = JSON.parse(cfg.bucketPolicy) as {
            Statement: { Principal: { AWS: string[] }; Action: string[]; Resource: string[]; Condition?: unknown }[];
        };
        assert.ok(policy.Statement.every((s) => s.Principal.AWS[0] === "arn:aws:iam:::user/backup-mssql"));
        const objects = policy.Statement.find((s) => s.Action.includes("s3:PutObject"));
        assert.deepStrictEqual(objects?.Resource, ["arn:aws:s3:::cnpg-backups/mssql/*"]);
        assert.ok(!objects?.Action.includes("s3:DeleteObject"), "SQL Server never deletes: the lifecycle does");
        const listing = policy.Statement.find((s) => s.Action.includes("s3:ListBucket"));
        assert.deepStrictEqual(listing?.Condition, { StringLike: { "s3:prefix": ["mssql", "mssql/*"] } });
        const rules = (JSON.parse(cfg.bucketLifecycle) as { Rules: { ID: string; Filter: { Prefix: string } }[] }).Rules;
        // Shared: each writer's objects expire by their own prefix, never the whole bucket.
        assert.deepStrictEqual(
            rules.filter((x) => x.ID.startsWith("expire-cnpg") || x.ID === "expire-mssql").map((x) => x.Filter.Prefix),
            ["esb-postgres/", "grafana-postgres/", "keycloak-pg/", "ss-postgres/", "mssql/"],
        );
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
            assert.deepStrictEqual(data(`backup-cnpg-${ns}`), {
                ACCESS_KEY_ID: mockKey("backup-cnpg-access-key", 20),
                ACCESS_SECRET_KEY: mockKey("backup-cnpg-secret-key", 40),
            });
        }
        assert.deepStrictEqual(data("backup-mssql-rciis-prod"), {
            AWS_ACCESS_KEY_ID: mockKey("backup-mssql-access-key", 20),
            AWS_SECRET_ACCESS_KEY: mockKey("backup-mssql-secret-key", 40),
        });
        // The velero Secret waits for the namespace this program creates.
        assert.ok(velero.options.dependsOn?.includes("kubernetes:core/v1:Namespace::velero"));
    });

    it("generates keys SQL Server can use: letters and digits only, secret", () => {
        // A RandomPassword, not a RandomString: a RandomString's ID is its value, in plaintext in the state.
        assert.strictEqual(r.all("random:index/randomString:RandomString").length, 0);
        const access = r.get("random:index/randomPassword:RandomPassword", "backup-mssql-access-key");
        assert.deepStrictEqual([access.inputs.special, access.inputs.lower, access.inputs.length], [false, false, 20]);
        assert.ok(access.options.additionalSecretOutputs?.includes("result"));
        const secret = r.get("random:index/randomPassword:RandomPassword", "backup-mssql-secret-key");
        assert.deepStrictEqual([secret.inputs.special, secret.inputs.length], [false, 40]);
    });

    it("keeps users, key Secrets and bucket claims on destroy; protects them when asked; lets the user opt out", async () => {
        const stateful = (x: Rendered) => [...x.all(T.user), ...x.all(T.obc), ...x.all(T.secret).filter((s) => s.name.endsWith("-keys"))];
        assert.strictEqual(stateful(r).length, 9);
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
            ["backup-velero-user"],
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
        assert.ok(!JSON.stringify(r.outputs).includes(mockKey("backup-velero-secret-key", 40)));
    });
});
