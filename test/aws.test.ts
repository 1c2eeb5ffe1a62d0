import * as assert from "assert";
import { chartValues, list, render, statements, type Raw, type Rendered, type Statement } from "./harness";

const T = {
    bucket: "aws:s3/bucket:Bucket",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    pab: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    policy: "aws:s3/bucketPolicy:BucketPolicy",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    lock: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    role: "aws:iam/role:Role",
    iamPolicy: "aws:iam/policy:Policy",
    user: "aws:iam/user:User",
    userPolicy: "aws:iam/userPolicy:UserPolicy",
    accessKey: "aws:iam/accessKey:AccessKey",
    kms: "aws:kms/key:Key",
};
const CONSUMERS = { velero: "rciis-aws-velero-backups", cnpg: "rciis-cnpg-backups", mssql: "rciis-aws-mssql-backups" };
const ISSUER = "oidc.eks.af-south-1.amazonaws.com/id/MOCKOIDCISSUER0000000000000000000";

/** Every action a policy allows on `resource` (exact match). */
function allowed(stmts: Statement[], resource: string): string[] {
    return stmts
        .filter((s) => s.Effect === "Allow" && list(s.Resource).includes(resource))
        .flatMap((s) => list(s.Action))
        .sort();
}

describe("aws stack", () => {
    let r: Rendered;
    before(async () => {
        r = await render("aws");
    });

    it("creates one bucket per consumer with the configured names, never force-destroyed", () => {
        for (const [consumer, bucket] of Object.entries(CONSUMERS)) {
            const b = r.get(T.bucket, `backup-${consumer}`);
            assert.strictEqual(b.inputs.bucket, bucket);
            assert.strictEqual(b.inputs.forceDestroy, false);
            assert.strictEqual(b.inputs.objectLockEnabled, false);
        }
        assert.strictEqual(r.all(T.bucket).length, 3);
    });

    it("guards every bucket: SSE-KMS with bucket key, versioning, public access block, owner-enforced, TLS only", () => {
        for (const consumer of Object.keys(CONSUMERS)) {
            const name = `backup-${consumer}`;
            const rule = (r.get(T.sse, name).inputs.rules as Record<string, Record<string, unknown>>[])[0];
            assert.deepStrictEqual(rule.applyServerSideEncryptionByDefault, {
                sseAlgorithm: "aws:kms",
                kmsMasterKeyId: "arn:aws:kms:af-south-1:123456789012:key/backup-backups",
            });
            assert.strictEqual(rule.bucketKeyEnabled, true);
            assert.deepStrictEqual(r.get(T.versioning, name).inputs.versioningConfiguration, { status: "Enabled" });
            const pab = r.get(T.pab, name).inputs;
            for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"])
                assert.strictEqual(pab[k], true, k);
            assert.deepStrictEqual(r.get(T.ownership, name).inputs.rule, { objectOwnership: "BucketOwnerEnforced" });
            const [deny] = statements(r.get(T.policy, name).inputs.policy);
            assert.strictEqual(deny.Effect, "Deny");
            assert.deepStrictEqual(deny.Condition, { Bool: { "aws:SecureTransport": "false" } });
            assert.deepStrictEqual(list(deny.Resource).sort(), [
                `arn:aws:s3:::${CONSUMERS[consumer as keyof typeof CONSUMERS]}`,
                `arn:aws:s3:::${CONSUMERS[consumer as keyof typeof CONSUMERS]}/*`,
            ]);
        }
    });

    it("SSE-S3 is selectable and then no KMS key exists", async () => {
        const s3 = await render("aws", (raw) => ((raw.aws as Record<string, unknown>).encryption = "s3"));
        assert.strictEqual(s3.all(T.kms).length, 0);
        const rule = (s3.get(T.sse, "backup-cnpg").inputs.rules as Record<string, unknown>[])[0];
        assert.deepStrictEqual(rule.applyServerSideEncryptionByDefault, { sseAlgorithm: "AES256" });
        const velero = statements(s3.get(T.iamPolicy, "backup-velero").inputs.policy);
        assert.ok(!velero.some((s) => list(s.Action).some((a) => a.startsWith("kms:"))), "no KMS grant without a key");
    });

    it("expires current objects only after retention + one backup interval + margin, and never Velero's kopia data", () => {
        const rules = (name: string) => r.get(T.lifecycle, name).inputs.rules as Record<string, Record<string, unknown>>[];
        const byId = (name: string) => Object.fromEntries(rules(name).map((x) => [x.id as unknown as string, x]));
        const cnpg = byId("backup-cnpg");
        assert.deepStrictEqual(cnpg["expire-cnpg"].expiration, { days: 30 + 1 + 7 });
        assert.deepStrictEqual(cnpg["expire-cnpg"].filter, { prefix: "" });
        assert.deepStrictEqual(cnpg["expire-noncurrent-versions"].noncurrentVersionExpiration, { noncurrentDays: 7 });
        assert.deepStrictEqual(cnpg["abort-incomplete-multipart"].abortIncompleteMultipartUpload, { daysAfterInitiation: 3 });
        const velero = rules("backup-velero");
        const expiring = velero.filter((x) => x.expiration && "days" in x.expiration);
        // The weekly-full TTL (2160h = 90d) bounds Velero's expiry from below.
        assert.deepStrictEqual(
            expiring.map((x) => [x.filter.prefix, x.expiration.days]),
            [
                ["backups/", 98],
                ["restores/", 98],
            ],
        );
        assert.ok(!velero.some((x) => String(x.filter.prefix).startsWith("kopia")));
        assert.deepStrictEqual(byId("backup-mssql")["expire-mssql"].filter, { prefix: "mssql/" });
    });

    it("turns on governance Object Lock for the database buckets only, when asked", async () => {
        assert.strictEqual(r.all(T.lock).length, 0);
        const locked = await render("aws", (raw) => ((raw.aws as Record<string, unknown>).objectLock = { enabled: true, days: 45 }));
        assert.deepStrictEqual(
            locked
                .all(T.lock)
                .map((l) => l.name)
                .sort(),
            ["backup-cnpg", "backup-mssql"],
        );
        assert.deepStrictEqual(locked.get(T.lock, "backup-cnpg").inputs.rule, { defaultRetention: { mode: "GOVERNANCE", days: 45 } });
        assert.strictEqual(locked.get(T.bucket, "backup-cnpg").inputs.objectLockEnabled, true);
        assert.strictEqual(locked.get(T.bucket, "backup-velero").inputs.objectLockEnabled, false);
    });

    it("gives Velero its bucket's objects and no EC2 action at all by default (CSI snapshots need none)", () => {
        const stmts = statements(r.get(T.iamPolicy, "backup-velero").inputs.policy);
        const bucket = `arn:aws:s3:::${CONSUMERS.velero}`;
        assert.deepStrictEqual(allowed(stmts, `${bucket}/*`), [
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ]);
        assert.deepStrictEqual(allowed(stmts, bucket), ["s3:ListBucket"]);
        assert.deepStrictEqual(
            stmts.flatMap((s) => list(s.Action)).filter((a) => a.startsWith("ec2:")),
            [],
        );
        for (const s of stmts) {
            for (const a of list(s.Action)) assert.ok(a !== "*" && a !== "s3:*", `wildcard action ${a}`);
            if (list(s.Action).some((a) => a.startsWith("s3:"))) assert.ok(!list(s.Resource).includes("*"), "S3 actions on Resource *");
        }
    });

    describe("the bucket key, per principal: only through S3, only for its own objects", () => {
        const KEY = "arn:aws:kms:af-south-1:123456789012:key/backup-backups";
        const VIA_S3 = { "kms:ViaService": "s3.af-south-1.amazonaws.com" };
        const cnpg = "arn:aws:s3:::rciis-cnpg-backups";
        /** Every statement of a policy that names a KMS action. */
        const kmsOf = (policy: unknown) => statements(policy).filter((s) => list(s.Action).some((a) => a.startsWith("kms:")));
        const grant = (actions: string[], bucket: string, objects: string[]) => [
            {
                Sid: "UseBucketKeyThroughS3",
                Effect: "Allow",
                Action: actions,
                Resource: KEY,
                Condition: { StringEquals: VIA_S3, StringLike: { "kms:EncryptionContext:aws:s3:arn": [bucket, ...objects] } },
            },
        ];
        const WRITE = ["kms:Decrypt", "kms:GenerateDataKey"];

        it("Velero: Decrypt and GenerateDataKey for its bucket", () => {
            const bucket = `arn:aws:s3:::${CONSUMERS.velero}`;
            assert.deepStrictEqual(kmsOf(r.get(T.iamPolicy, "backup-velero").inputs.policy), grant(WRITE, bucket, [`${bucket}/*`]));
        });

        it("each CNPG cluster: Decrypt and GenerateDataKey for its own prefix", () => {
            for (const cluster of ["esb-postgres", "ss-postgres", "grafana-postgres", "keycloak-pg"])
                assert.deepStrictEqual(
                    kmsOf(r.get(T.iamPolicy, `backup-cnpg-${cluster}`).inputs.policy),
                    grant(WRITE, cnpg, [`${cnpg}/${cluster}/*`]),
                );
        });

        it("a recovery cluster: its own prefix and its source's", async () => {
            const recovered = await render("aws", (raw) => {
                raw.cnpg = {
                    recoveries: [{ from: "esb-postgres", name: "esb-restored", imageCatalog: { name: "postgresql-17", major: 17 } }],
                };
            });
            assert.deepStrictEqual(
                kmsOf(recovered.get(T.iamPolicy, "backup-cnpg-esb-restored").inputs.policy),
                grant(WRITE, cnpg, [`${cnpg}/esb-restored/*`, `${cnpg}/esb-postgres/*`]),
            );
        });

        it("SQL Server's long-lived user: Decrypt and GenerateDataKey for its databases' prefixes only", () => {
            const bucket = `arn:aws:s3:::${CONSUMERS.mssql}`;
            assert.deepStrictEqual(
                kmsOf(r.get(T.userPolicy, "backup-mssql").inputs.policy),
                grant(WRITE, bucket, [`${bucket}/mssql/rciis-prod/RCIIS/*`]),
            );
        });

        it("drill roles: Decrypt only, for the database they read", async () => {
            const drills = await render("aws", (raw) => (raw.drills = { enabled: true }));
            assert.deepStrictEqual(
                kmsOf(drills.get(T.iamPolicy, "backup-cnpg-keycloak-pg-drill").inputs.policy),
                grant(["kms:Decrypt"], cnpg, [`${cnpg}/keycloak-pg/*`]),
            );
        });

        it("no principal may Encrypt, ReEncrypt or DescribeKey, or use the key outside S3", async () => {
            const drills = await render("aws", (raw) => (raw.drills = { enabled: true }));
            const docs = [...drills.all(T.iamPolicy), ...drills.all(T.userPolicy)].map((p) => p.inputs.policy);
            assert.strictEqual(docs.length, 10, "velero, four CNPG roles, four drill roles, SQL Server");
            for (const s of docs.flatMap(kmsOf)) {
                assert.deepStrictEqual(
                    list(s.Action).filter((a) => !WRITE.includes(a)),
                    [],
                    JSON.stringify(s),
                );
                assert.deepStrictEqual(s.Condition?.StringEquals, VIA_S3);
            }
        });
    });

    it("scopes each CNPG cluster's objects to its own prefix; listing is bucket-wide for barman's HeadBucket", () => {
        for (const cluster of ["esb-postgres", "ss-postgres", "grafana-postgres", "keycloak-pg"]) {
            const stmts = statements(r.get(T.iamPolicy, `backup-cnpg-${cluster}`).inputs.policy);
            const objects = stmts.filter((s) => list(s.Action).includes("s3:PutObject"));
            assert.deepStrictEqual(
                objects.flatMap((s) => list(s.Resource)),
                [`arn:aws:s3:::rciis-cnpg-backups/${cluster}/*`],
            );
            // HeadBucket carries no s3:prefix: a prefix condition on ListBucket made every barman-cloud call fail (e2e/pitr).
            const listing = stmts.filter((s) => list(s.Action).includes("s3:ListBucket"));
            assert.deepStrictEqual(
                listing.map((s) => [s.Resource, s.Condition]),
                [["arn:aws:s3:::rciis-cnpg-backups", undefined]],
            );
            assert.ok(
                stmts.every(
                    (s) =>
                        !list(s.Action).some((a) => /^s3:(Get|Put|Delete)Object$/.test(a)) ||
                        list(s.Resource).every((x) => x.includes(`/${cluster}/`)),
                ),
                "no object action outside the cluster's prefix",
            );
        }
    });

    it("trusts each IRSA role to exactly one service account, by sub and aud", () => {
        const expected: Record<string, string> = {
            "backup-velero": "system:serviceaccount:velero:velero-server",
            "backup-cnpg-esb-postgres": "system:serviceaccount:rciis-prod:esb-postgres",
            "backup-cnpg-keycloak-pg": "system:serviceaccount:keycloak:keycloak-pg",
        };
        for (const [role, sub] of Object.entries(expected)) {
            const [trust] = statements(r.get(T.role, role).inputs.assumeRolePolicy);
            assert.strictEqual(trust.Action, "sts:AssumeRoleWithWebIdentity");
            assert.deepStrictEqual(trust.Principal, { Federated: `arn:aws:iam::123456789012:oidc-provider/${ISSUER}` });
            assert.deepStrictEqual(trust.Condition, { StringEquals: { [`${ISSUER}:sub`]: sub, [`${ISSUER}:aud`]: "sts.amazonaws.com" } });
        }
        assert.strictEqual(r.all(T.role).length, 5);
    });

    it("uses an explicit OIDC provider without any lookup", async () => {
        const explicit = await render("aws", (raw) => {
            (raw.aws as Record<string, unknown>).eks = {
                oidcProviderArn: "arn:aws:iam::111122223333:oidc-provider/oidc.eks.af-south-1.amazonaws.com/id/ABC",
                oidcIssuerUrl: "https://oidc.eks.af-south-1.amazonaws.com/id/ABC",
            };
        });
        const [trust] = statements(explicit.get(T.role, "backup-velero").inputs.assumeRolePolicy);
        assert.deepStrictEqual(trust.Principal, {
            Federated: "arn:aws:iam::111122223333:oidc-provider/oidc.eks.af-south-1.amazonaws.com/id/ABC",
        });
        assert.ok("oidc.eks.af-south-1.amazonaws.com/id/ABC:sub" in (trust.Condition?.StringEquals ?? {}));
    });

    it("gives SQL Server a dedicated IAM user that can write but not delete, with a secret key", () => {
        const stmts = statements(r.get(T.userPolicy, "backup-mssql").inputs.policy);
        assert.deepStrictEqual(allowed(stmts, "arn:aws:s3:::rciis-aws-mssql-backups/mssql/rciis-prod/RCIIS/*"), [
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ]);
        assert.ok(!stmts.some((s) => list(s.Action).includes("s3:DeleteObject")));
        const secretOutputs = r.get(T.accessKey, "backup-mssql").options.additionalSecretOutputs ?? [];
        assert.ok(secretOutputs.includes("id") && secretOutputs.includes("secret"), secretOutputs.join());
        const secret = r.get("kubernetes:core/v1:Secret", "backup-mssql-rciis-prod");
        assert.strictEqual((secret.inputs.metadata as Record<string, unknown>).name, "mssql-s3-credentials");
        assert.strictEqual(secret.inputs.stringData, "[secret]");
    });

    it("delivers the access key into the SQL Server Secret", async () => {
        const revealed = await render("aws", undefined, true);
        const data = revealed.get("kubernetes:core/v1:Secret", "backup-mssql-rciis-prod").inputs.stringData as Record<string, unknown>;
        assert.deepStrictEqual(data, {
            secret: { AWS_ACCESS_KEY_ID: "AKIAMOCKRENDER000000", AWS_SECRET_ACCESS_KEY: "mock-secret-access-key" },
        });
    });

    it("keeps buckets, KMS key, IAM user and its key on destroy", () => {
        const stateful = [...r.all(T.bucket), ...r.all(T.kms), ...r.all(T.user), ...r.all(T.accessKey)];
        assert.strictEqual(stateful.length, 6);
        for (const res of stateful) assert.strictEqual(res.options.retainOnDelete, true, `${res.type}::${res.name}`);
    });

    it("outputs role ARNs that are the roles' own ARNs, and no secret", () => {
        const out = r.outputs as { velero: { roleArn: string }; postgres: Record<string, { roleArn: string }> };
        assert.strictEqual(out.velero.roleArn, "arn:aws:iam::123456789012:role/backup/backup-velero");
        assert.strictEqual(out.postgres["ss-postgres"].roleArn, "arn:aws:iam::123456789012:role/backup/backup-cnpg-ss-postgres");
        assert.ok(!JSON.stringify(r.outputs).includes("mock-secret-access-key"));
    });
});

describe("Velero native (EBS) snapshots: backup:velero.nativeSnapshots", () => {
    const MUTATING = /^ec2:(Create|Delete)/;
    /** Condition keys that say which snapshots and volumes a statement reaches (a region alone does not). */
    const SCOPING = /^(aws:RequestTag\/|aws:ResourceTag\/|ec2:ResourceTag\/|ec2:CreateAction$)/;
    const on = (raw: Raw) => (raw.velero = { ...(raw.velero as Raw | undefined), nativeSnapshots: true });
    let r: Rendered;
    before(async () => {
        r = await render("aws", on);
    });

    it("are off by default: no snapshot location, snapshots disabled", async () => {
        const values = chartValues(await render("aws"), "velero");
        assert.deepStrictEqual((values.configuration as Raw).volumeSnapshotLocation, []);
        assert.strictEqual(values.snapshotsEnabled, false);
    });

    it("when on, render an aws VolumeSnapshotLocation in the stack's region", () => {
        const values = chartValues(r, "velero");
        assert.deepStrictEqual((values.configuration as Raw).volumeSnapshotLocation, [
            { name: "default", provider: "aws", config: { region: "af-south-1" } },
        ]);
        assert.strictEqual(values.snapshotsEnabled, true);
    });

    it("when on, every mutating EC2 action is scoped by tag or creation action; Describe* alone is on *", () => {
        const ec2 = statements(r.get(T.iamPolicy, "backup-velero").inputs.policy).filter((s) =>
            list(s.Action).some((a) => a.startsWith("ec2:")),
        );
        const actions = [...new Set(ec2.flatMap((s) => list(s.Action)))].sort();
        assert.deepStrictEqual(actions, [
            "ec2:CreateSnapshot",
            "ec2:CreateTags",
            "ec2:CreateVolume",
            "ec2:DeleteSnapshot",
            "ec2:DescribeSnapshots",
            "ec2:DescribeVolumes",
        ]);
        for (const s of ec2) {
            const resources = list(s.Resource);
            if (list(s.Action).some((a) => MUTATING.test(a))) {
                const keys = Object.values(s.Condition ?? {}).flatMap((block) => Object.keys(block));
                assert.ok(keys.length > 0 && keys.every((k) => SCOPING.test(k)), `${s.Sid}: ${JSON.stringify(s.Condition)}`);
                assert.ok(!resources.includes("*"), `${s.Sid} on *`);
                for (const arn of resources) assert.match(arn, /^arn:aws:ec2:af-south-1:[0-9*]*:(snapshot|volume)\/\*$/);
            } else assert.deepStrictEqual(list(s.Action).sort(), ["ec2:DescribeSnapshots", "ec2:DescribeVolumes"]);
        }
    });

    it("when on, create snapshots only with Velero's tags and delete only snapshots that carry them", () => {
        const ec2 = statements(r.get(T.iamPolicy, "backup-velero").inputs.policy);
        const snapshots = "arn:aws:ec2:af-south-1::snapshot/*";
        const on = (action: string, resource: string) =>
            ec2.filter((s) => list(s.Action).includes(action) && list(s.Resource).includes(resource)).map((s) => s.Condition);
        assert.deepStrictEqual(on("ec2:DeleteSnapshot", snapshots), [{ Null: { "ec2:ResourceTag/velero.io/backup": "false" } }]);
        assert.deepStrictEqual(on("ec2:CreateSnapshot", snapshots), [
            { Null: { "aws:RequestTag/velero.io/backup": "false", "aws:RequestTag/velero.io/pv": "false" } },
        ]);
        assert.deepStrictEqual(on("ec2:CreateTags", snapshots), [
            { StringEquals: { "ec2:CreateAction": ["CreateSnapshot", "CreateVolume"] } },
        ]);
        assert.deepStrictEqual(on("ec2:CreateVolume", snapshots), [{ Null: { "ec2:ResourceTag/velero.io/backup": "false" } }]);
    });

    it("are refused on bare metal before anything is registered", async () => {
        await assert.rejects(
            () => render("baremetal", on),
            (err: Error & { registered?: number }) => {
                assert.match(err.message, /backup:velero\.nativeSnapshots: must be false on bare metal \(allowed: false\)/);
                assert.strictEqual(err.registered, 0);
                return true;
            },
        );
    });
});
