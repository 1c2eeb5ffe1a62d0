// Passing fixtures, shaped as `npm run render` prints the program's resources (inputs as the policy
// host passes them). Tests change one property at a time.
import type { ResourceInput } from "./harness";

const BUCKET_ARN = "arn:aws:s3:::rciis-cnpg-backups";
const ISSUER = "oidc.eks.af-south-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

export const bucket = (): ResourceInput => ({
    type: "aws:s3/bucket:Bucket",
    name: "backup-cnpg",
    props: { bucket: "rciis-cnpg-backups", forceDestroy: false, objectLockEnabled: false },
    opts: { retainOnDelete: true },
});

export const encryption = (): ResourceInput => ({
    type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    props: {
        bucket: "backup-cnpg-id",
        rules: [
            {
                applyServerSideEncryptionByDefault: {
                    sseAlgorithm: "aws:kms",
                    kmsMasterKeyId: "arn:aws:kms:af-south-1:123456789012:key/k",
                },
                bucketKeyEnabled: true,
            },
        ],
    },
});

export const versioning = (): ResourceInput => ({
    type: "aws:s3/bucketVersioning:BucketVersioning",
    props: { bucket: "backup-cnpg-id", versioningConfiguration: { status: "Enabled" } },
});

export const publicAccessBlock = (): ResourceInput => ({
    type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    props: {
        bucket: "backup-cnpg-id",
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
    },
});

export const tlsOnlyPolicy = {
    Version: "2012-10-17",
    Statement: [
        {
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
    ],
};

export const bucketPolicy = (doc: unknown = tlsOnlyPolicy): ResourceInput => ({
    type: "aws:s3/bucketPolicy:BucketPolicy",
    props: { bucket: "backup-cnpg-id", policy: JSON.stringify(doc) },
});

export const lifecycle = (): ResourceInput => ({
    type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    props: {
        bucket: "backup-cnpg-id",
        rules: [
            {
                id: "abort-incomplete-multipart",
                status: "Enabled",
                filter: { prefix: "" },
                abortIncompleteMultipartUpload: { daysAfterInitiation: 3 },
            },
            { id: "expire-cnpg", status: "Enabled", filter: { prefix: "" }, expiration: { days: 38 } },
            {
                id: "expire-noncurrent-versions",
                status: "Enabled",
                filter: { prefix: "" },
                noncurrentVersionExpiration: { noncurrentDays: 7 },
            },
            {
                id: "remove-expired-delete-markers",
                status: "Enabled",
                filter: { prefix: "" },
                expiration: { expiredObjectDeleteMarker: true },
            },
        ],
    },
});

/** The CNPG role's permission document (stacks/aws/). */
export const cnpgPermissions = {
    Version: "2012-10-17",
    Statement: [
        {
            Sid: "BarmanObjects",
            Effect: "Allow",
            Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
            Resource: `${BUCKET_ARN}/esb-postgres/*`,
        },
        {
            Sid: "ListPrefix",
            Effect: "Allow",
            Action: "s3:ListBucket",
            Resource: BUCKET_ARN,
            Condition: { StringLike: { "s3:prefix": ["esb-postgres", "esb-postgres/*"] } },
        },
        { Sid: "BarmanBucketLocation", Effect: "Allow", Action: "s3:GetBucketLocation", Resource: BUCKET_ARN },
        {
            // Not the CNPG role's (Velero's, with native snapshots): an action on "*" that is not S3.
            Sid: "DescribeVolumesAndSnapshots",
            Effect: "Allow",
            Action: ["ec2:DescribeSnapshots", "ec2:DescribeVolumes"],
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": "af-south-1" } },
        },
    ],
};

export const iamPolicy = (doc: unknown = cnpgPermissions): ResourceInput => ({
    type: "aws:iam/policy:Policy",
    props: { path: "/backup/", policy: JSON.stringify(doc) },
});

export const irsaTrust = {
    Version: "2012-10-17",
    Statement: [
        {
            Effect: "Allow",
            Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${ISSUER}` },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
                StringEquals: {
                    [`${ISSUER}:sub`]: "system:serviceaccount:velero:velero-server",
                    [`${ISSUER}:aud`]: "sts.amazonaws.com",
                },
            },
        },
    ],
};

export const SUB = `${ISSUER}:sub`;
export const AUD = `${ISSUER}:aud`;

export const irsaRole = (doc: unknown = irsaTrust): ResourceInput => ({
    type: "aws:iam/role:Role",
    props: { path: "/backup/", assumeRolePolicy: JSON.stringify(doc) },
});

export const objectStoreUser = (): ResourceInput => ({
    type: "kubernetes:ceph.rook.io/v1:CephObjectStoreUser",
    props: {
        apiVersion: "ceph.rook.io/v1",
        kind: "CephObjectStoreUser",
        metadata: { name: "backup-velero", namespace: "rook-ceph" },
        spec: {
            store: "ceph-objectstore",
            displayName: "Backup writer: velero",
            keys: [
                {
                    accessKeyRef: { name: "backup-velero-s3-keys", key: "access-key" },
                    secretKeyRef: { name: "backup-velero-s3-keys", key: "secret-key" },
                },
            ],
        },
    },
});

export const rookLifecycle = (days = 38): string =>
    JSON.stringify({
        Rules: [
            { ID: "expire-cnpg", Status: "Enabled", Filter: { Prefix: "" }, Expiration: { Days: days } },
            {
                ID: "remove-expired-delete-markers",
                Status: "Enabled",
                Filter: { Prefix: "" },
                Expiration: { ExpiredObjectDeleteMarker: true },
            },
        ],
    });

export const objectBucketClaim = (): ResourceInput => ({
    type: "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim",
    props: {
        apiVersion: "objectbucket.io/v1alpha1",
        kind: "ObjectBucketClaim",
        metadata: { name: "cnpg-backups", namespace: "rook-ceph" },
        spec: {
            bucketName: "cnpg-backups",
            storageClassName: "backup-buckets",
            additionalConfig: { bucketOwner: "backup-owner", bucketLifecycle: rookLifecycle() },
        },
    },
});

export const scheduledBackup = (): ResourceInput => ({
    type: "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup",
    props: {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "ScheduledBackup",
        metadata: { name: "esb-postgres-daily", namespace: "rciis-prod" },
        spec: {
            schedule: "0 0 2 * * *",
            backupOwnerReference: "self",
            cluster: { name: "esb-postgres" },
            method: "plugin",
            pluginConfiguration: { name: "barman-cloud.cloudnative-pg.io" },
        },
    },
});

/** A ClusterPatch giving an application team's cluster the in-tree object store (method barmanObjectStore). */
export const inTreeClusterPatch = (): ResourceInput => ({
    type: "kubernetes:postgresql.cnpg.io/v1:ClusterPatch",
    props: {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: { name: "esb-postgres", namespace: "rciis-prod" },
        spec: {
            backup: {
                barmanObjectStore: {
                    destinationPath: "s3://rciis-cnpg-backups/esb-postgres",
                    s3Credentials: { inheritFromIAMRole: true },
                    wal: { compression: "gzip", maxParallel: 2 },
                    data: { compression: "gzip" },
                },
                retentionPolicy: "30d",
            },
        },
    },
});

/** A ClusterPatch wiring the Barman Cloud Plugin (method plugin). */
export const pluginClusterPatch = (): ResourceInput => ({
    type: "kubernetes:postgresql.cnpg.io/v1:ClusterPatch",
    props: {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: { name: "esb-postgres", namespace: "rciis-prod" },
        spec: {
            plugins: [{ name: "barman-cloud.cloudnative-pg.io", isWALArchiver: true, parameters: { barmanObjectName: "esb-postgres" } }],
        },
    },
});

export const objectStore = (): ResourceInput => ({
    type: "kubernetes:barmancloud.cnpg.io/v1:ObjectStore",
    props: {
        apiVersion: "barmancloud.cnpg.io/v1",
        kind: "ObjectStore",
        metadata: { name: "esb-postgres", namespace: "rciis-prod" },
        spec: {
            configuration: { destinationPath: "s3://rciis-cnpg-backups/esb-postgres", s3Credentials: { inheritFromIAMRole: true } },
            retentionPolicy: "30d",
        },
    },
});

export const veleroSchedule = (): ResourceInput => ({
    type: "kubernetes:velero.io/v1:Schedule",
    props: {
        apiVersion: "velero.io/v1",
        kind: "Schedule",
        metadata: { name: "velero-daily-namespaces", namespace: "velero" },
        spec: {
            schedule: "0 2 * * *",
            useOwnerReferencesInBackup: false,
            template: { ttl: "720h", storageLocation: "default", includedNamespaces: ["rciis-prod"], snapshotMoveData: false },
        },
    },
});

/** The Velero chart resource with the seeds' HA values (AWS: IRSA, no Secret). */
export const veleroChart = (): ResourceInput => ({
    type: "kubernetes:helm.sh/v4:Chart",
    name: "velero",
    props: {
        chart: "velero",
        version: "11.3.2",
        namespace: "velero",
        repositoryOpts: { repo: "https://vmware-tanzu.github.io/helm-charts" },
        values: {
            credentials: { useSecret: false },
            serviceAccount: {
                server: {
                    name: "velero-server",
                    annotations: { "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/backup/backup-velero" },
                },
            },
            schedules: {
                "daily-namespaces": {
                    disabled: false,
                    schedule: "0 2 * * *",
                    useOwnerReferencesInBackup: false,
                    template: { ttl: "720h", storageLocation: "default", includedNamespaces: ["rciis-prod"], snapshotMoveData: false },
                },
                "weekly-full": {
                    disabled: false,
                    schedule: "0 3 * * 0",
                    useOwnerReferencesInBackup: false,
                    template: { ttl: "2160h", storageLocation: "default", includeClusterResources: true, snapshotMoveData: false },
                },
            },
        },
    },
});

/** A SQL Server backup CronJob: pinned image, non-root, limits. */
export const cronJob = (): ResourceInput => ({
    type: "kubernetes:batch/v1:CronJob",
    props: {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "mssql-backup-rciis", namespace: "rciis-prod" },
        spec: {
            schedule: "0 3 * * *",
            jobTemplate: {
                spec: {
                    template: {
                        spec: {
                            restartPolicy: "OnFailure",
                            securityContext: { runAsNonRoot: true, runAsUser: 10001 },
                            initContainers: [
                                {
                                    name: "wait",
                                    image: "busybox:1.37.0",
                                    resources: { limits: { cpu: "50m", memory: "32Mi" } },
                                },
                            ],
                            containers: [
                                {
                                    name: "backup",
                                    image: "mcr.microsoft.com/mssql-tools:18.4.1",
                                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                                },
                            ],
                        },
                    },
                },
            },
        },
    },
});

const SNAPSHOTS = "arn:aws:ec2:af-south-1::snapshot/*";
const VOLUMES = "arn:aws:ec2:af-south-1:*:volume/*";

/** Velero's EC2 statements with `backup:velero.nativeSnapshots: true` (stacks/grants.ts). */
export const veleroSnapshotPermissions = {
    Version: "2012-10-17",
    Statement: [
        {
            Sid: "DescribeVolumesAndSnapshots",
            Effect: "Allow",
            Action: ["ec2:DescribeSnapshots", "ec2:DescribeVolumes"],
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": "af-south-1" } },
        },
        {
            Sid: "SnapshotPersistentVolumes",
            Effect: "Allow",
            Action: "ec2:CreateSnapshot",
            Resource: VOLUMES,
            Condition: { Null: { "ec2:ResourceTag/kubernetes.io/created-for/pv/name": "false" } },
        },
        {
            Sid: "CreateVeleroSnapshots",
            Effect: "Allow",
            Action: "ec2:CreateSnapshot",
            Resource: SNAPSHOTS,
            Condition: { Null: { "aws:RequestTag/velero.io/backup": "false", "aws:RequestTag/velero.io/pv": "false" } },
        },
        {
            Sid: "RestoreVolumes",
            Effect: "Allow",
            Action: "ec2:CreateVolume",
            Resource: VOLUMES,
            Condition: { Null: { "aws:RequestTag/velero.io/backup": "false" } },
        },
        {
            Sid: "RestoreFromVeleroSnapshots",
            Effect: "Allow",
            Action: "ec2:CreateVolume",
            Resource: SNAPSHOTS,
            Condition: { Null: { "ec2:ResourceTag/velero.io/backup": "false" } },
        },
        {
            Sid: "TagOnCreate",
            Effect: "Allow",
            Action: "ec2:CreateTags",
            Resource: [SNAPSHOTS, VOLUMES],
            Condition: { StringEquals: { "ec2:CreateAction": ["CreateSnapshot", "CreateVolume"] } },
        },
        {
            Sid: "DeleteVeleroSnapshots",
            Effect: "Allow",
            Action: "ec2:DeleteSnapshot",
            Resource: SNAPSHOTS,
            Condition: { Null: { "ec2:ResourceTag/velero.io/backup": "false" } },
        },
    ],
};

/** A consumer's bucket-key grant (stacks/grants.ts), and the replication role's Encrypt on the replica key (stacks/replication.ts). */
export const kmsPermissions = {
    Version: "2012-10-17",
    Statement: [
        {
            Sid: "UseBucketKeyThroughS3",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
            Resource: "arn:aws:kms:af-south-1:123456789012:key/k",
            Condition: {
                StringEquals: { "kms:ViaService": "s3.af-south-1.amazonaws.com" },
                StringLike: { "kms:EncryptionContext:aws:s3:arn": [BUCKET_ARN, `${BUCKET_ARN}/esb-postgres/*`] },
            },
        },
        {
            Sid: "EncryptReplicas",
            Effect: "Allow",
            Action: ["kms:Encrypt", "kms:GenerateDataKey"],
            Resource: "arn:aws:kms:eu-west-1:123456789012:key/r",
            Condition: {
                StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" },
                StringLike: { "kms:EncryptionContext:aws:s3:arn": [`${BUCKET_ARN}-replica`, `${BUCKET_ARN}-replica/*`] },
            },
        },
    ],
};

/** A namespace the stack owns: retained on delete, enforcing restricted. */
export const namespace = (): ResourceInput => ({
    type: "kubernetes:core/v1:Namespace",
    name: "velero",
    props: {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "velero", labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
    },
    opts: { retainOnDelete: true },
});

/** A container security context that meets restricted (a new object each time: fixtures are edited by path). */
const restrictedContainer = () => ({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true });

/** A Deployment whose pod meets the restricted Pod Security Standard (pod-level non-root and seccomp). */
export const restrictedDeployment = (): ResourceInput => ({
    type: "kubernetes:apps/v1:Deployment",
    name: "velero-server",
    props: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "velero", namespace: "velero" },
        spec: {
            template: {
                spec: {
                    securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: "RuntimeDefault" } },
                    initContainers: [
                        {
                            name: "velero-plugin-for-aws",
                            image: "velero/velero-plugin-for-aws:v1.13.0",
                            securityContext: restrictedContainer(),
                        },
                    ],
                    containers: [{ name: "velero", image: "velero/velero:v1.17.0", securityContext: restrictedContainer() }],
                    volumes: [
                        { name: "plugins", emptyDir: {} },
                        { name: "cloud-credentials", secret: { secretName: "velero" } },
                    ],
                },
            },
        },
    },
});

/** The Velero chart with values that give its pods the restricted profile (components/velero.ts). */
export const restrictedVeleroChart = (): ResourceInput => {
    const chart = veleroChart();
    Object.assign(chart.props.values as Record<string, unknown>, {
        podSecurityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
        containerSecurityContext: restrictedContainer(),
        initContainers: [
            { name: "velero-plugin-for-aws", image: "velero/velero-plugin-for-aws:v1.13.0", securityContext: restrictedContainer() },
        ],
        deployNodeAgent: false,
    });
    return chart;
};
