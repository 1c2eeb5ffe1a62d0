import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { RUNBOOK_ANCHORS, type AlertRule } from "../components/alerts";
import { podSecurityLabels } from "../components/namespaces";
import { copyScript } from "../components/offsite";
import { parseConfig } from "../config";
import { evaluate } from "../cli/checks";
import { type Row } from "../cli/rows";
import { emptySnapshot } from "../cli/snapshot";
import { type KubeObject } from "../kube/client";
import { clone, crdValidator, list, owned, render, stackConfig, statements, type Raw, type Rendered, type Statement } from "./harness";
import { accessTable } from "./rgw-policy";

type Obj = Record<string, unknown>;
const T = {
    user: "kubernetes:ceph.rook.io/v1:CephObjectStoreUser",
    obc: "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim",
    secret: "kubernetes:core/v1:Secret",
    cm: "kubernetes:core/v1:ConfigMap",
    ns: "kubernetes:core/v1:Namespace",
    cronJob: "kubernetes:batch/v1:CronJob",
    rule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    provider: "pulumi:providers:aws",
    bucket: "aws:s3/bucket:Bucket",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    pab: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    policy: "aws:s3/bucketPolicy:BucketPolicy",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    lock: "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    replication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    iamUser: "aws:iam/user:User",
    userPolicy: "aws:iam/userPolicy:UserPolicy",
    accessKey: "aws:iam/accessKey:AccessKey",
    kms: "aws:kms/key:Key",
    alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
};
const BUCKETS = ["cnpg-backups", "mssql-backups", "velero-backups"];
const validateRule = crdValidator("prometheus-operator-0.82.2_monitoring.coreos.com_prometheusrules.yaml");
/** Mock random results derive from the resource name (cli/recorder.ts). */
const mockKey = (resource: string, length: number) =>
    resource
        .replace(/[^A-Za-z0-9]/g, "")
        .padEnd(length, "0")
        .slice(0, length);

/** Bare metal, copying to a bucket the program creates on AWS. */
const toAws =
    (extra: Raw = {}) =>
    (raw: Raw) =>
        (raw.offsite = { enabled: true, aws: { region: "eu-west-1", bucket: "rciis-offsite-backups" }, ...extra });
/** Bare metal, copying to an existing bucket. */
const toExisting = (raw: Raw) =>
    (raw.offsite = {
        enabled: true,
        prefix: "kenya",
        bandwidthLimit: "5M",
        destination: {
            endpoint: "https://minio.dr.example.org",
            region: "dr-1",
            bucket: "rciis-dr",
            provider: "Minio",
            credentialsSecret: { name: "dr-s3", accessKeyIdKey: "user", secretAccessKeyKey: "password" },
        },
    });
/** AWS: replication to a second region. */
const replicate =
    (extra: Raw = {}) =>
    (raw: Raw) =>
        (raw.offsite = { enabled: true, aws: { region: "eu-west-1", ...extra } });

type Container = {
    image: string;
    command: string[];
    args: string[];
    env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    securityContext: Obj;
    resources: { limits?: Obj };
    volumeMounts: Obj[];
};
const pod = (cronJob: { inputs: Obj }) =>
    ((((cronJob.inputs.spec as Obj).jobTemplate as Obj).spec as Obj).template as Obj).spec as {
        securityContext: Obj;
        automountServiceAccountToken: boolean;
        containers: Container[];
        volumes: Obj[];
    };
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef]));
const rules = (r: Rendered): AlertRule[] =>
    (r.get(T.rule, "backup-alerts-rules").inputs.spec as { groups: { rules: AlertRule[] }[] }).groups[0].rules;

/** Every action a policy allows on `resource` (exact match). */
const allowed = (stmts: Statement[], resource: string) =>
    stmts
        .filter((s) => s.Effect === "Allow" && list(s.Resource).includes(resource))
        .flatMap((s) => list(s.Action))
        .sort();

describe("off-site copy, bare metal", () => {
    let r: Rendered;
    before(async () => {
        r = await render("baremetal", toAws());
    });

    it("is off by default: no replicator, no copy job, no bucket policy on single-user buckets", async () => {
        const off = await render("baremetal");
        assert.ok(!off.resources.some((x) => x.name.includes("replicator") || x.name.startsWith("offsite")));
        assert.strictEqual((off.outputs as Obj).offsite, undefined);
    });

    it("creates a read-only replicator object user: no capabilities, program-owned keys, retained", () => {
        const user = r.get(T.user, "backup-replicator-user");
        assert.deepStrictEqual(user.inputs.metadata, {
            name: "backup-replicator",
            namespace: "rook-ceph",
            annotations: owned("baremetal"),
        });
        const spec = user.inputs.spec as Obj;
        assert.strictEqual(spec.capabilities, undefined, "reading buckets needs no admin API");
        assert.deepStrictEqual(spec.keys, [
            {
                accessKeyRef: { name: "backup-replicator-s3-keys", key: "access-key" },
                secretKeyRef: { name: "backup-replicator-s3-keys", key: "secret-key" },
            },
        ]);
        for (const res of [user, r.get(T.secret, "backup-replicator-keys")]) assert.strictEqual(res.options.retainOnDelete, true, res.name);
    });

    it("grants the replicator list and get on every backup bucket through its policy, and nothing else", () => {
        for (const bucket of BUCKETS) {
            const obc = r.get(T.obc, `backup-bucket-${bucket}`);
            const stmts = statements((obc.inputs.spec as { additionalConfig: Obj }).additionalConfig.bucketPolicy);
            const mine = stmts.filter(
                (s) => JSON.stringify(s.Principal) === JSON.stringify({ AWS: ["arn:aws:iam:::user/backup-replicator"] }),
            );
            assert.deepStrictEqual(allowed(mine, `arn:aws:s3:::${bucket}`), ["s3:GetBucketLocation", "s3:ListBucket"]);
            assert.deepStrictEqual(allowed(mine, `arn:aws:s3:::${bucket}/*`), ["s3:GetObject"]);
            assert.ok(
                mine.every((s) => s.Condition === undefined),
                "the whole bucket: every writer's prefix",
            );
            assert.ok(obc.options.dependsOn?.includes("kubernetes:ceph.rook.io/v1:CephObjectStoreUser::backup-replicator-user"));
            // Evaluated: every prefix of the bucket, list and get only (the bucket's owner is a user of its own).
            assert.deepStrictEqual(
                accessTable(r).filter((x) => x.user === "backup-replicator" && x.bucket === bucket),
                [
                    {
                        user: "backup-replicator",
                        bucket,
                        prefix: "*",
                        rights: { list: true, get: true, put: false, delete: false, multipart: false },
                    },
                ],
            );
        }
    });

    it("adds the replicator's grant to a shared bucket's policy without widening the writers'", async () => {
        const shared = await render("baremetal", (raw) => {
            toAws()(raw);
            ((raw.baremetal as Raw).buckets as Raw).mssql = "cnpg-backups";
        });
        const stmts = statements(
            (shared.get(T.obc, "backup-bucket-cnpg-backups").inputs.spec as { additionalConfig: Obj }).additionalConfig.bucketPolicy,
        );
        assert.deepStrictEqual(
            stmts.map((s) => s.Sid),
            // Prefix-limited users (SQL Server) also get HeadBucket (`-exists`); CNPG and the replicator list the whole bucket.
            ["backup-cnpg-keycloak", "backup-cnpg-monitoring", "backup-cnpg-rciis-prod", "backup-mssql", "backup-replicator"].flatMap(
                (u) => [`${u}-location`, `${u}-list`, ...(u === "backup-mssql" ? [`${u}-exists`] : []), `${u}-objects`],
            ),
        );
        const replicator = stmts.filter((s) => s.Sid?.startsWith("backup-replicator"));
        assert.ok(!replicator.flatMap((s) => list(s.Action)).some((a) => /Put|Delete|Abort/.test(a)));
    });

    it("copies every bucket with rclone copy, never sync: checksums, bandwidth limit, pinned image", () => {
        const cj = r.get(T.cronJob, "offsite-copy");
        assert.deepStrictEqual(cj.inputs.metadata, {
            name: "offsite-copy",
            namespace: "backup-offsite",
            labels: { "app.kubernetes.io/name": "offsite-copy", "app.kubernetes.io/part-of": "backup-platform" },
            annotations: owned("baremetal"),
        });
        const spec = cj.inputs.spec as Obj;
        assert.deepStrictEqual([spec.schedule, spec.timeZone, spec.concurrencyPolicy], ["0 6 * * *", "Etc/UTC", "Forbid"]);
        const [c] = pod(cj).containers;
        assert.strictEqual(c.image, "rclone/rclone:1.69.1");
        assert.deepStrictEqual(c.command, ["/bin/sh", "-c", copyScript("20M"), "offsite-copy"]);
        assert.deepStrictEqual(c.args, BUCKETS, "every backup bucket, sorted");
        const script = c.command[2];
        assert.match(script, /rclone copy "src:\$\{bucket\}" "dst:\$\{DESTINATION\}\/\$\{bucket\}" --checksum --bwlimit 20M /);
        assert.ok(
            !/\b(sync|move|moveto|delete|purge|deletefile|cleanup|--delete)\b/.test(script),
            "nothing is ever deleted at the destination",
        );
        assert.match(script, /exit 1/, "a failed bucket fails the job after the others are copied");
    });

    it("keeps keys out of argv: rclone reads both remotes from the environment, the keys from a Secret", async () => {
        const revealed = await render("baremetal", toAws(), true);
        const [c] = pod(revealed.get(T.cronJob, "offsite-copy")).containers;
        const env = envOf(c);
        assert.deepStrictEqual(Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("RCLONE_CONFIG_SRC_"))), {
            RCLONE_CONFIG_SRC_TYPE: "s3",
            RCLONE_CONFIG_SRC_PROVIDER: "Ceph",
            RCLONE_CONFIG_SRC_ENDPOINT: "http://rook-ceph-rgw-ceph-objectstore.rook-ceph.svc.cluster.local:80",
            RCLONE_CONFIG_SRC_REGION: "rciis-kenya",
            RCLONE_CONFIG_SRC_FORCE_PATH_STYLE: "true",
            RCLONE_CONFIG_SRC_ACCESS_KEY_ID: { name: "offsite-s3-credentials", key: "SRC_ACCESS_KEY_ID" },
            RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY: { name: "offsite-s3-credentials", key: "SRC_SECRET_ACCESS_KEY" },
        });
        assert.deepStrictEqual(env.RCLONE_CONFIG_DST_ACCESS_KEY_ID, { name: "offsite-s3-credentials", key: "DST_ACCESS_KEY_ID" });
        assert.deepStrictEqual(env.RCLONE_CONFIG_DST_SECRET_ACCESS_KEY, { name: "offsite-s3-credentials", key: "DST_SECRET_ACCESS_KEY" });
        assert.strictEqual(env.RCLONE_CONFIG_DST_NO_CHECK_BUCKET, "true");
        assert.strictEqual(env.RCLONE_CONFIG_DST_SERVER_SIDE_ENCRYPTION, "aws:kms");
        assert.strictEqual(env.DESTINATION, "rciis-offsite-backups");
        assert.ok(
            c.env.every((e) => !/KEY/.test(e.name) || e.name.endsWith("KMS_KEY_ID") || e.valueFrom !== undefined),
            "keys only by reference",
        );
        // The Secret carries the replicator's keys and the AWS writer's key, as secrets.
        const secret = revealed.get(T.secret, "offsite-credentials");
        assert.deepStrictEqual((secret.inputs.metadata as Obj).namespace, "backup-offsite");
        const data = (secret.inputs.stringData as { secret: Record<string, string> }).secret;
        assert.deepStrictEqual(data, {
            SRC_ACCESS_KEY_ID: mockKey("backup-replicator-access-key", 20),
            SRC_SECRET_ACCESS_KEY: mockKey("backup-replicator-secret-key", 40),
            DST_ACCESS_KEY_ID: "AKIAMOCKRENDER000000",
            DST_SECRET_ACCESS_KEY: "mock-secret-access-key",
        });
        const visible = JSON.stringify([c.command, c.args, c.env.map((e) => e.value ?? null)]);
        for (const key of Object.values(data)) assert.ok(!visible.includes(key), "no key in the pod spec's command, args or literal env");
        assert.strictEqual(r.get(T.secret, "offsite-credentials").inputs.stringData, "[secret]");
    });

    it("runs non-root with a read-only root filesystem, no API token, bounded resources", () => {
        const p = pod(r.get(T.cronJob, "offsite-copy"));
        assert.strictEqual(p.securityContext.runAsNonRoot, true);
        assert.strictEqual(p.securityContext.runAsUser, 65534);
        assert.strictEqual(p.automountServiceAccountToken, false);
        const [c] = p.containers;
        assert.deepStrictEqual(c.securityContext, {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        });
        assert.deepStrictEqual(c.resources.limits, { cpu: "1", memory: "512Mi" });
        assert.deepStrictEqual(r.get(T.ns, "backup-offsite").inputs.metadata, {
            name: "backup-offsite",
            labels: podSecurityLabels("restricted"),
            annotations: owned("baremetal"),
        });
    });

    it("creates the AWS bucket with every guard rail, through an explicit provider for that account and region", async () => {
        assert.deepStrictEqual(r.get(T.provider, "offsite-aws").inputs.region, "eu-west-1");
        const b = r.get(T.bucket, "offsite-destination");
        assert.deepStrictEqual([b.inputs.bucket, b.inputs.forceDestroy, b.options.retainOnDelete], ["rciis-offsite-backups", false, true]);
        const rule = (r.get(T.sse, "offsite-destination").inputs.rules as Obj[])[0];
        assert.deepStrictEqual(rule.applyServerSideEncryptionByDefault, {
            sseAlgorithm: "aws:kms",
            kmsMasterKeyId: "arn:aws:kms:af-south-1:123456789012:key/offsite-backups",
        });
        assert.deepStrictEqual(r.get(T.versioning, "offsite-destination").inputs.versioningConfiguration, { status: "Enabled" });
        for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"])
            assert.strictEqual(r.get(T.pab, "offsite-destination").inputs[k], true, k);
        const [deny] = statements(r.get(T.policy, "offsite-destination").inputs.policy);
        assert.deepStrictEqual([deny.Effect, deny.Condition], ["Deny", { Bool: { "aws:SecureTransport": "false" } }]);
        assert.strictEqual(r.get(T.kms, "offsite-backups").options.retainOnDelete, true);
        const assumed = await render(
            "baremetal",
            toAws({
                aws: {
                    region: "eu-west-1",
                    bucket: "b-offsite",
                    profile: "dr",
                    assumeRoleArn: "arn:aws:iam::111122223333:role/backup-offsite",
                },
            }),
        );
        const p = assumed.get(T.provider, "offsite-aws").inputs;
        assert.strictEqual(p.profile, "dr");
        assert.match(JSON.stringify(p.assumeRoles), /arn:aws:iam::111122223333:role\/backup-offsite/);
    });

    it("keeps each copy as long as its original: the sources' lifecycle, re-rooted under the source bucket", async () => {
        const rules = r.get(T.lifecycle, "offsite-destination").inputs.rules as {
            id: string;
            filter: { prefix: string };
            expiration?: { days?: number };
        }[];
        const expiring = Object.fromEntries(
            rules.filter((x) => x.expiration?.days !== undefined).map((x) => [x.filter.prefix, x.expiration?.days]),
        );
        assert.deepStrictEqual(expiring, {
            "cnpg-backups/": 38,
            "mssql-backups/mssql/": 38,
            "velero-backups/backups/": 98,
            "velero-backups/restores/": 98,
        });
        assert.deepStrictEqual(
            rules.map((x) => x.id),
            [...rules.map((x) => x.id)].sort(),
        );
        const prefixed = await render(
            "baremetal",
            toAws({ prefix: "kenya", aws: { region: "eu-west-1", bucket: "b-offsite", objectLock: { enabled: true, days: 45 } } }),
        );
        const p = prefixed.get(T.lifecycle, "offsite-destination").inputs.rules as { filter: { prefix: string } }[];
        assert.ok(p.some((x) => x.filter.prefix === "kenya/cnpg-backups/"));
        assert.deepStrictEqual(prefixed.get(T.lock, "offsite-destination").inputs.rule, {
            defaultRetention: { mode: "GOVERNANCE", days: 45 },
        });
        assert.strictEqual(envOf(pod(prefixed.get(T.cronJob, "offsite-copy")).containers[0]).DESTINATION, "b-offsite/kenya");
    });

    it("gives the AWS writer upload and read-back, never delete, on that bucket only; its key is a secret", () => {
        const stmts = statements(r.get(T.userPolicy, "offsite-writer").inputs.policy);
        assert.deepStrictEqual(allowed(stmts, "arn:aws:s3:::rciis-offsite-backups/*"), [
            "s3:AbortMultipartUpload",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ]);
        assert.deepStrictEqual(allowed(stmts, "arn:aws:s3:::rciis-offsite-backups"), ["s3:GetBucketLocation", "s3:ListBucket"]);
        assert.deepStrictEqual(allowed(stmts, "arn:aws:kms:af-south-1:123456789012:key/offsite-backups"), [
            "kms:Decrypt",
            "kms:GenerateDataKey",
        ]);
        // The long-lived key can use the KMS key only through S3 in the bucket's region (eu-west-1), for that bucket.
        const kms = stmts.filter((s) => list(s.Action).some((a) => a.startsWith("kms:")));
        assert.deepStrictEqual(
            kms.map((s) => s.Condition),
            [
                {
                    StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
                    StringLike: {
                        "kms:EncryptionContext:aws:s3:arn": ["arn:aws:s3:::rciis-offsite-backups", "arn:aws:s3:::rciis-offsite-backups/*"],
                    },
                },
            ],
        );
        assert.ok(!stmts.flatMap((s) => list(s.Action)).some((a) => a.includes("Delete") || a.endsWith("*")));
        const key = r.get(T.accessKey, "offsite-writer");
        assert.ok(
            ["id", "secret"].every((k) => key.options.additionalSecretOutputs?.includes(k)),
            "the key pair is a Pulumi secret",
        );
        assert.strictEqual(r.get(T.iamUser, "offsite-writer").options.retainOnDelete, true);
    });

    it("copies to an existing bucket with the operator's Secret, a prefix, and the source's private CA", async () => {
        const existing = await render("baremetal", (raw) => {
            toExisting(raw);
            (raw.baremetal as Raw).caBundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        });
        assert.ok(!existing.resources.some((x) => x.type.startsWith("aws:") || x.type === T.provider), "no AWS account needed");
        const p = pod(existing.get(T.cronJob, "offsite-copy"));
        const [c] = p.containers;
        const env = envOf(c);
        assert.deepStrictEqual(env.RCLONE_CONFIG_DST_ACCESS_KEY_ID, { name: "dr-s3", key: "user" });
        assert.deepStrictEqual(env.RCLONE_CONFIG_DST_SECRET_ACCESS_KEY, { name: "dr-s3", key: "password" });
        assert.deepStrictEqual(
            [env.RCLONE_CONFIG_DST_ENDPOINT, env.RCLONE_CONFIG_DST_REGION, env.RCLONE_CONFIG_DST_PROVIDER, env.DESTINATION],
            ["https://minio.dr.example.org", "dr-1", "Minio", "rciis-dr/kenya"],
        );
        assert.strictEqual(env.RCLONE_CONFIG_DST_SERVER_SIDE_ENCRYPTION, undefined);
        assert.strictEqual(
            env.SSL_CERT_DIR,
            "/etc/ssl/certs:/etc/backup-ca",
            "the private CA is added to the system roots, not substituted",
        );
        assert.deepStrictEqual(p.volumes[1], { name: "ca", configMap: { name: "offsite-endpoint-ca" } });
        assert.match(c.command[2], /--bwlimit 5M /);
        const secret = existing.get(T.secret, "offsite-credentials");
        assert.strictEqual(secret.inputs.stringData, "[secret]");
        const revealed = await render("baremetal", toExisting, true);
        assert.deepStrictEqual(
            Object.keys((revealed.get(T.secret, "offsite-credentials").inputs.stringData as { secret: Obj }).secret).sort(),
            ["SRC_ACCESS_KEY_ID", "SRC_SECRET_ACCESS_KEY"],
            "the destination's keys stay in the operator's Secret",
        );
    });

    it("alerts when the copy is stale by its schedule's interval plus grace, and reports where it goes", () => {
        const pr = r.get(T.rule, "backup-alerts-rules").inputs;
        assert.ok(validateRule(pr), JSON.stringify(validateRule.errors));
        const [stale] = rules(r).filter((x) => x.alert === "OffsiteCopyStale");
        assert.ok(
            stale.expr.includes(
                `kube_cronjob_status_last_successful_time{namespace="backup-offsite",cronjob="offsite-copy"}) > ${27 * 3600}`,
            ),
            stale.expr,
        );
        assert.strictEqual(stale.annotations.runbook_url, `README.md#${RUNBOOK_ANCHORS.OffsiteCopyStale}`);
        const readme = fs.readFileSync(path.join(__dirname, "..", "..", "README.md"), "utf8");
        assert.ok(readme.includes("### Alert: Off-site copy stale"));
        assert.deepStrictEqual((r.outputs as { offsite: Obj }).offsite, {
            kind: "copy",
            cronJob: "backup-offsite/offsite-copy",
            schedule: "0 6 * * *",
            destination: "s3://rciis-offsite-backups",
            endpoint: "https://s3.eu-west-1.amazonaws.com",
            region: "eu-west-1",
            readsAs: "backup-replicator",
            buckets: BUCKETS,
        });
    });

    it("names everything by stable keys, so reordering the inventory changes nothing", async () => {
        const reordered = await render("baremetal", (raw) => {
            toAws()(raw);
            (raw.postgres as Raw[]).reverse();
        });
        const view = (x: Rendered) => JSON.stringify(x.resources.map((res) => [res.type, res.name, res.inputs]));
        assert.strictEqual(view(reordered), view(r));
    });
});

describe("off-site copy, AWS (S3 replication)", () => {
    let r: Rendered;
    before(async () => {
        r = await render("aws", replicate());
    });

    it("replicates each backup bucket to its replica: whole bucket, KMS objects, no delete markers, metrics on", () => {
        for (const consumer of ["velero", "cnpg", "mssql"]) {
            const rc = r.get(T.replication, `backup-${consumer}`);
            assert.strictEqual(rc.parent, `aws:s3/bucket:Bucket::backup-${consumer}`);
            assert.strictEqual(rc.inputs.role, `arn:aws:iam::123456789012:role/backup/backup-${consumer}-replica`);
            const [rule] = rc.inputs.rules as Obj[];
            const source = r.get(T.bucket, `backup-${consumer}`).inputs.bucket as string;
            assert.deepStrictEqual(rule, {
                id: "offsite",
                status: "Enabled",
                filter: { prefix: "" },
                deleteMarkerReplication: { status: "Disabled" },
                destination: {
                    bucket: `arn:aws:s3:::${source}-replica`,
                    encryptionConfiguration: { replicaKmsKeyId: "arn:aws:kms:af-south-1:123456789012:key/backup-backups-replica" },
                    metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
                },
                sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
            });
            // Versioning on both sides before replication, and the role's policy in place.
            for (const dep of [
                `aws:s3/bucketVersioning:BucketVersioning::backup-${consumer}`,
                `aws:s3/bucketVersioning:BucketVersioning::backup-${consumer}-replica`,
                `aws:iam/rolePolicy:RolePolicy::backup-${consumer}-replica`,
            ])
                assert.ok(rc.options.dependsOn?.includes(dep), dep);
        }
    });

    it("guards each replica like its source, in the second region, with its own key and the source's lifecycle", () => {
        assert.strictEqual(r.get(T.provider, "backup-aws-replica").inputs.region, "eu-west-1");
        for (const consumer of ["velero", "cnpg", "mssql"]) {
            const id = `backup-${consumer}-replica`;
            const b = r.get(T.bucket, id);
            assert.deepStrictEqual(
                [b.inputs.bucket, b.inputs.forceDestroy, b.options.retainOnDelete],
                [`${r.get(T.bucket, `backup-${consumer}`).inputs.bucket as string}-replica`, false, true],
            );
            assert.deepStrictEqual(r.get(T.versioning, id).inputs.versioningConfiguration, { status: "Enabled" });
            const rule = (r.get(T.sse, id).inputs.rules as Obj[])[0];
            assert.deepStrictEqual(
                (rule.applyServerSideEncryptionByDefault as Obj).kmsMasterKeyId,
                "arn:aws:kms:af-south-1:123456789012:key/backup-backups-replica",
            );
            assert.deepStrictEqual(r.get(T.lifecycle, id).inputs.rules, r.get(T.lifecycle, `backup-${consumer}`).inputs.rules);
            for (const t of [T.pab, T.policy]) assert.strictEqual(r.get(t, id).parent, `aws:s3/bucket:Bucket::${id}`);
        }
        assert.strictEqual(r.get(T.kms, "backup-backups-replica").options.retainOnDelete, true);
    });

    it("scopes each replication role to its two buckets and their keys, action by action, and never replicates deletes", () => {
        const [trust] = statements(r.get(T.role, "backup-cnpg-replica").inputs.assumeRolePolicy);
        assert.deepStrictEqual([trust.Principal, trust.Action], [{ Service: "s3.amazonaws.com" }, "sts:AssumeRole"]);
        const stmts = statements(r.get(T.rolePolicy, "backup-cnpg-replica").inputs.policy);
        const src = "arn:aws:s3:::rciis-cnpg-backups";
        const dst = "arn:aws:s3:::rciis-cnpg-backups-replica";
        assert.deepStrictEqual(allowed(stmts, src), ["s3:GetReplicationConfiguration", "s3:ListBucket"]);
        assert.deepStrictEqual(allowed(stmts, `${src}/*`), [
            "s3:GetObjectVersionAcl",
            "s3:GetObjectVersionForReplication",
            "s3:GetObjectVersionTagging",
        ]);
        assert.deepStrictEqual(allowed(stmts, `${dst}/*`), ["s3:ReplicateObject", "s3:ReplicateTags"]);
        assert.deepStrictEqual(allowed(stmts, "arn:aws:kms:af-south-1:123456789012:key/backup-backups"), ["kms:Decrypt"]);
        assert.deepStrictEqual(allowed(stmts, "arn:aws:kms:af-south-1:123456789012:key/backup-backups-replica"), [
            "kms:Encrypt",
            "kms:GenerateDataKey",
        ]);
        const resources = new Set(stmts.flatMap((s) => list(s.Resource)));
        assert.deepStrictEqual(resources.size, 5, "two buckets, their objects' two scopes... and the two keys");
        assert.ok(!stmts.flatMap((s) => list(s.Action)).some((a) => a === "s3:ReplicateDelete" || a.includes("*")));
        const decrypt = stmts.find((s) => s.Sid === "DecryptSource");
        assert.deepStrictEqual(decrypt?.Condition, {
            StringEquals: { "kms:ViaService": "s3.af-south-1.amazonaws.com" },
            StringLike: { "kms:EncryptionContext:aws:s3:arn": [src, `${src}/*`] },
        });
        const encrypt = stmts.find((s) => s.Sid === "EncryptReplicas");
        assert.deepStrictEqual(encrypt?.Condition, {
            StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
            StringLike: { "kms:EncryptionContext:aws:s3:arn": [dst, `${dst}/*`] },
        });
    });

    it("reads Object Lock metadata of locked sources; locks replicas when asked", async () => {
        const locked = await render("aws", (raw) => {
            replicate({ objectLock: { enabled: true, days: 60 } })(raw);
            (raw.aws as Raw).objectLock = { enabled: true, days: 30 };
        });
        const actions = (consumer: string) =>
            allowed(
                statements(locked.get(T.rolePolicy, `backup-${consumer}-replica`).inputs.policy),
                `${locked.get(T.bucket, `backup-${consumer}`).inputs.bucket as string}`.replace(/^/, "arn:aws:s3:::") + "/*",
            );
        assert.ok(actions("cnpg").includes("s3:GetObjectRetention") && actions("cnpg").includes("s3:GetObjectLegalHold"));
        assert.ok(!actions("velero").includes("s3:GetObjectRetention"), "Velero's bucket is never locked");
        assert.deepStrictEqual(locked.get(T.lock, "backup-velero-replica").inputs.rule, {
            defaultRetention: { mode: "GOVERNANCE", days: 60 },
        });
    });

    it("with SSE-S3 sources, replicates without KMS", async () => {
        const s3 = await render("aws", (raw) => {
            replicate()(raw);
            (raw.aws as Raw).encryption = "s3";
        });
        const [rule] = s3.get(T.replication, "backup-cnpg").inputs.rules as Obj[];
        assert.strictEqual(rule.sourceSelectionCriteria, undefined);
        assert.strictEqual((rule.destination as Obj).encryptionConfiguration, undefined);
        assert.strictEqual(s3.all(T.kms).length, 0);
        assert.ok(
            !statements(s3.get(T.rolePolicy, "backup-cnpg-replica").inputs.policy).some((s) =>
                list(s.Action).some((a) => a.startsWith("kms:")),
            ),
        );
    });

    it("watches replication with CloudWatch alarms in the source region (failures, latency beyond the grace)", async () => {
        const failed = r.get(T.alarm, "backup-cnpg-replica-failed").inputs;
        assert.deepStrictEqual(
            [failed.name, failed.namespace, failed.metricName, failed.threshold, failed.comparisonOperator],
            [
                "backup-platform-aws-rciis-cnpg-backups-replication-failed",
                "AWS/S3",
                "OperationsFailedReplication",
                0,
                "GreaterThanThreshold",
            ],
        );
        assert.deepStrictEqual(failed.dimensions, {
            SourceBucket: "rciis-cnpg-backups",
            DestinationBucket: "rciis-cnpg-backups-replica",
            RuleId: "offsite",
        });
        const latency = r.get(T.alarm, "backup-cnpg-replica-latency").inputs;
        assert.deepStrictEqual([latency.metricName, latency.statistic, latency.threshold], ["ReplicationLatency", "Maximum", 3 * 3600]);
        const notified = await render("aws", replicate({ alarmTopicArn: "arn:aws:sns:af-south-1:123456789012:backup-alerts" }));
        assert.deepStrictEqual(notified.get(T.alarm, "backup-velero-replica-latency").inputs.alarmActions, [
            "arn:aws:sns:af-south-1:123456789012:backup-alerts",
        ]);
        const out = (r.outputs as { offsite: { kind: string; replicas: Record<string, Obj> } }).offsite;
        assert.strictEqual(out.kind, "s3-replication");
        assert.deepStrictEqual(out.replicas.cnpg, {
            bucket: "rciis-cnpg-backups-replica",
            region: "eu-west-1",
            arn: "arn:aws:s3:::rciis-cnpg-backups-replica",
            alarms: [
                "backup-platform-aws-rciis-cnpg-backups-replication-failed",
                "backup-platform-aws-rciis-cnpg-backups-replication-latency",
            ],
        });
        assert.ok(!rules(r).some((x) => x.alert === "OffsiteCopyStale"), "no CronJob to watch on AWS");
    });

    it("uses configured replica names", async () => {
        const named = await render("aws", replicate({ buckets: { cnpg: "dr-cnpg" } }));
        assert.strictEqual(named.get(T.bucket, "backup-cnpg-replica").inputs.bucket, "dr-cnpg");
        assert.strictEqual(named.get(T.bucket, "backup-velero-replica").inputs.bucket, "rciis-aws-velero-backups-replica");
    });

    it("changes nothing on the AWS stack when off", async () => {
        const off = await render("aws");
        assert.ok(!off.resources.some((x) => x.name.includes("replica") || x.type === T.replication || x.type === T.alarm));
    });
});

describe("off-site config", () => {
    const bm = stackConfig("baremetal");
    const aws = stackConfig("aws");
    const bad: [string, Raw, Raw, RegExp][] = [
        ["neither destination nor aws", bm, { offsite: { enabled: true } }, /backup:offsite: give exactly one of destination .* or aws/],
        [
            "both destination and aws",
            bm,
            {
                offsite: {
                    enabled: true,
                    aws: { region: "eu-west-1", bucket: "b-off" },
                    destination: { endpoint: "https://x", region: "r", bucket: "b-off", credentialsSecret: { name: "s" } },
                },
            },
            /backup:offsite: give exactly one of/,
        ],
        [
            "an AWS destination without a bucket",
            bm,
            { offsite: { enabled: true, aws: { region: "eu-west-1" } } },
            /backup:offsite\.aws\.bucket: required/,
        ],
        [
            "a bad bandwidth limit",
            bm,
            { offsite: { bandwidthLimit: "20 MB/s" } },
            /backup:offsite\.bandwidthLimit: .*rclone --bwlimit value like 20M/,
        ],
        ["an unpinned rclone image", bm, { offsite: { image: "rclone/rclone:latest" } }, /backup:offsite\.image: an image must be pinned/],
        [
            "a six-field schedule",
            bm,
            { offsite: { schedule: "0 0 6 * * *" } },
            /backup:offsite\.schedule: a schedule must be a five-field cron/,
        ],
        ["an unknown key", bm, { offsite: { enabled: true, bwlimit: "1M" } }, /backup:offsite: unknown key\(s\) bwlimit/],
        [
            "the Velero namespace for the copy job",
            bm,
            { offsite: { enabled: true, namespace: "velero", aws: { region: "eu-west-1", bucket: "b-off" } } },
            /backup:offsite\.namespace: "velero" is already in use/,
        ],
        [
            "an unknown rclone provider",
            bm,
            {
                offsite: {
                    destination: { endpoint: "https://x", region: "r", bucket: "bbb", provider: "gcs", credentialsSecret: { name: "s" } },
                },
            },
            /backup:offsite\.destination\.provider: must be one of AWS, Ceph, Minio, Wasabi, Other/,
        ],
        [
            "an existing destination on AWS",
            aws,
            {
                offsite: {
                    enabled: true,
                    destination: { endpoint: "https://x", region: "r", bucket: "bbb", credentialsSecret: { name: "s" } },
                },
            },
            /backup:offsite\.destination: not used on AWS: .*S3 replication/,
        ],
        ["AWS without a replica region", aws, { offsite: { enabled: true } }, /backup:offsite\.aws: required on AWS/],
        [
            "the same region",
            aws,
            { offsite: { enabled: true, aws: { region: "af-south-1" } } },
            /backup:offsite\.aws\.region: must differ from backup:aws\.region \(af-south-1\)/,
        ],
        [
            "SSE-S3 replicas of KMS sources",
            aws,
            { offsite: { enabled: true, aws: { region: "eu-west-1", encryption: "s3" } } },
            /backup:offsite\.aws\.encryption: must be kms/,
        ],
        [
            "a replica named like a source",
            aws,
            { offsite: { enabled: true, aws: { region: "eu-west-1", buckets: { velero: "rciis-cnpg-backups" } } } },
            /backup:offsite\.aws\.buckets\.velero: "rciis-cnpg-backups" is a source bucket/,
        ],
        [
            "a default replica name over 63 characters",
            aws,
            {
                aws: { ...(aws.aws as Raw), buckets: { velero: "v".repeat(60), cnpg: "c-b", mssql: "m-b" } },
                offsite: { enabled: true, aws: { region: "eu-west-1" } },
            },
            /backup:offsite\.aws\.buckets\.velero: the default .* longer than 63 characters/,
        ],
        [
            "a bare-metal-only key on AWS",
            aws,
            { offsite: { enabled: true, aws: { region: "eu-west-1", profile: "dr" } } },
            /backup:offsite\.aws\.profile: is for bare metal/,
        ],
        [
            "replica names on bare metal",
            bm,
            { offsite: { enabled: true, aws: { region: "eu-west-1", bucket: "b-off", buckets: { cnpg: "x-y-z" } } } },
            /backup:offsite\.aws\.buckets: is for the AWS stack's replicas/,
        ],
    ];
    for (const [what, base, change, message] of bad) {
        it(`refuses ${what}, naming the key`, () => {
            assert.throws(() => parseConfig({ ...clone(base), ...change }), message);
        });
    }

    it("fails before any resource is registered", async () => {
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.offsite = { enabled: true })),
            (err: Error & { registered?: number }) => {
                assert.match(err.message, /backup:offsite/);
                assert.strictEqual(err.registered, 0);
                return true;
            },
        );
    });

    it("stays off without complaint when only defaults are present", () => {
        const cfg = parseConfig(bm);
        assert.deepStrictEqual(
            [cfg.offsite.enabled, cfg.offsite.schedule, cfg.offsite.bandwidthLimit, cfg.offsite.namespace],
            [false, "0 6 * * *", "20M", "backup-offsite"],
        );
    });
});

describe("verify: off-site copy and drills", () => {
    const NOW = Date.parse("2026-11-21T12:00:00Z");
    const ago = (hours: number) => new Date(NOW - hours * 3600_000).toISOString();
    const cronJob = (namespace: string, name: string, lastSuccess?: string): KubeObject => ({
        metadata: { namespace, name, creationTimestamp: ago(24 * 60) },
        spec: {},
        status: lastSuccess ? { lastSuccessfulTime: lastSuccess } : {},
    });
    const row = (rows: Row[], kind: string, name: string) => {
        const found = rows.find((x) => x.kind === kind && x.name === name);
        assert.ok(found, `no ${kind} row ${name}`);
        return found;
    };

    it("checks the off-site copy's last success against its schedule (bare metal)", () => {
        const cfg = parseConfig({ ...stackConfig("baremetal"), offsite: { enabled: true, aws: { region: "eu-west-1", bucket: "b-off" } } });
        const snap = emptySnapshot();
        snap.cronJobs = [cronJob("backup-offsite", "offsite-copy", ago(30))];
        const stale = row(evaluate(cfg, snap, NOW), "offsite", "backup-offsite/offsite-copy");
        assert.deepStrictEqual(
            [stale.status, stale.detail, stale.facts.destination],
            ["FAIL", "last success 30h ago, limit 27h", "s3://b-off"],
        );
        snap.cronJobs = [cronJob("backup-offsite", "offsite-copy", ago(5))];
        assert.strictEqual(row(evaluate(cfg, snap, NOW), "offsite", "backup-offsite/offsite-copy").status, "OK");
        snap.cronJobs = [];
        assert.strictEqual(row(evaluate(cfg, snap, NOW), "offsite", "backup-offsite/offsite-copy").detail, "CronJob not found");
        const awsCfg = parseConfig({ ...stackConfig("aws"), offsite: { enabled: true, aws: { region: "eu-west-1" } } });
        assert.ok(
            !evaluate(awsCfg, emptySnapshot(), NOW).some((x) => x.kind === "offsite"),
            "S3 replication is not visible from the cluster (README)",
        );
    });

    it("checks each scheduled drill's last success, with the last report's facts", () => {
        const cfg = parseConfig({
            ...stackConfig("baremetal"),
            drills: { enabled: true, schedule: "0 5 * * 0", databases: ["esb-postgres"] },
        });
        const snap = emptySnapshot();
        snap.cronJobs = [cronJob("rciis-prod", "esb-postgres-drill", ago(30))];
        const report = (ok: boolean) => ({
            metadata: { namespace: "rciis-prod", name: "esb-postgres-drill-report" },
            data: {
                "report.json": JSON.stringify({
                    ok,
                    finishedAt: ago(2),
                    timeToRecoverSeconds: 412,
                    recoveredPoint: { target: "latest", timeline: 3 },
                    error: ok ? null : "not healthy within 3600 s; last phase: Setting up primary",
                }),
            },
        });
        snap.drillReports = [report(true)];
        const rows = evaluate(cfg, snap, NOW).filter((x) => x.kind === "drill");
        assert.deepStrictEqual(
            rows.map((x) => x.name),
            ["rciis-prod/esb-postgres-drill"],
        );
        assert.deepStrictEqual([rows[0].status, rows[0].detail], ["OK", "last success 30h ago: recovered in 412 s to latest"]);
        assert.deepStrictEqual([rows[0].facts.timeToRecoverSeconds, rows[0].facts.timeline], [412, 3]);
        snap.drillReports = [report(false)];
        const failed = row(evaluate(cfg, snap, NOW), "drill", "rciis-prod/esb-postgres-drill");
        assert.deepStrictEqual(
            [failed.status, failed.detail],
            ["WARN", "last drill failed: not healthy within 3600 s; last phase: Setting up primary; last success 30h ago"],
        );
        snap.cronJobs = [cronJob("rciis-prod", "esb-postgres-drill", ago(24 * 8))];
        assert.strictEqual(row(evaluate(cfg, snap, NOW), "drill", "rciis-prod/esb-postgres-drill").status, "FAIL");
    });

    it("counts a drill cluster's volume as covered while it exists", () => {
        const cfg = parseConfig({ ...stackConfig("baremetal"), velero: { schedules: {} }, drills: { enabled: true } });
        const snap = emptySnapshot();
        snap.pvcs = [
            { metadata: { namespace: "keycloak", name: "keycloak-pg-drill-1", labels: { "cnpg.io/cluster": "keycloak-pg-drill" } } },
        ];
        assert.strictEqual(row(evaluate(cfg, snap, NOW), "pvc", "*").status, "OK");
    });
});
