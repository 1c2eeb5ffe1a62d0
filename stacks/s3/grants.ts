// IAM statements that need conditions to be least privilege: a KMS key used only through S3 for
// named buckets, and Velero's EBS snapshot actions limited to what Velero itself tags.
import { type Statement } from "./bucket";

/** S3's endpoint in a region, as KMS sees it in `kms:ViaService`. */
export function s3Service(region: string, partition: string): string {
    return `s3.${region}.amazonaws.com${partition === "aws-cn" ? ".cn" : ""}`;
}

/**
 * The condition that limits a KMS grant to S3 requests for some objects. With S3 Bucket Keys
 * (every bucket here) S3 asks KMS for the bucket-level key with the encryption context
 * `aws:s3:arn` = the bucket ARN; an object written without a bucket key carries its own ARN.
 * `objects` are the object ARN patterns the principal may touch (`<bucket>/<prefix>/*`).
 */
export function viaS3(region: string, partition: string, bucketArn: string, objects: readonly string[]): Statement["Condition"] {
    return {
        StringEquals: { "kms:ViaService": s3Service(region, partition) },
        StringLike: { "kms:EncryptionContext:aws:s3:arn": [bucketArn, ...objects] },
    };
}

/** One statement granting `actions` on `keyArn`, only through S3 in `region`, only for the given bucket's objects. */
export function kmsThroughS3(args: {
    sid: string;
    keyArn: string;
    actions: readonly string[];
    region: string;
    partition: string;
    bucketArn: string;
    objects: readonly string[];
}): Statement {
    return {
        Sid: args.sid,
        Effect: "Allow",
        Action: [...args.actions],
        Resource: args.keyArn,
        Condition: viaS3(args.region, args.partition, args.bucketArn, args.objects),
    };
}

/** Tags velero-plugin-for-aws puts on every EBS snapshot it takes (Velero's own, besides the volume's). */
export const VELERO_SNAPSHOT_TAGS = { backup: "velero.io/backup", pv: "velero.io/pv" } as const;
/**
 * Tag that the EBS CSI driver (with its default extra metadata) and the in-tree provisioner put on the
 * volumes they create for a PersistentVolume; Velero may snapshot only such volumes.
 */
export const PV_VOLUME_TAG = "kubernetes.io/created-for/pv/name";

/** A tag key must be present (IAM's `Null: false`). */
const present = (...keys: string[]): Statement["Condition"] => ({ Null: Object.fromEntries(keys.map((k) => [k, "false"])) });

/**
 * Velero's native (EBS) snapshot permissions in one region. Snapshots are created only with Velero's
 * tags, only of volumes Kubernetes provisioned for a PV; volumes are restored only from Velero's
 * snapshots; tags only at creation; deletion only of snapshots that carry Velero's tag. Describe*
 * does not support resource-level permissions, so it is the one grant on `*`.
 */
export function veleroSnapshotStatements(region: string, partition: string): Statement[] {
    const volumes = `arn:${partition}:ec2:${region}:*:volume/*`;
    const snapshots = `arn:${partition}:ec2:${region}::snapshot/*`;
    const backupTag = (kind: "aws:RequestTag" | "ec2:ResourceTag") => `${kind}/${VELERO_SNAPSHOT_TAGS.backup}`;
    const allow = (sid: string, action: string | string[], resource: string | string[], condition: Statement["Condition"]): Statement => ({
        Sid: sid,
        Effect: "Allow",
        Action: action,
        Resource: resource,
        Condition: condition,
    });
    return [
        allow("DescribeVolumesAndSnapshots", ["ec2:DescribeSnapshots", "ec2:DescribeVolumes"], "*", {
            StringEquals: { "aws:RequestedRegion": region },
        }),
        allow("SnapshotPersistentVolumes", "ec2:CreateSnapshot", volumes, present(`ec2:ResourceTag/${PV_VOLUME_TAG}`)),
        allow(
            "CreateVeleroSnapshots",
            "ec2:CreateSnapshot",
            snapshots,
            present(backupTag("aws:RequestTag"), `aws:RequestTag/${VELERO_SNAPSHOT_TAGS.pv}`),
        ),
        allow("RestoreVolumes", "ec2:CreateVolume", volumes, present(backupTag("aws:RequestTag"))),
        allow("RestoreFromVeleroSnapshots", "ec2:CreateVolume", snapshots, present(backupTag("ec2:ResourceTag"))),
        allow("TagOnCreate", "ec2:CreateTags", [snapshots, volumes], {
            StringEquals: { "ec2:CreateAction": ["CreateSnapshot", "CreateVolume"] },
        }),
        allow("DeleteVeleroSnapshots", "ec2:DeleteSnapshot", snapshots, present(backupTag("ec2:ResourceTag"))),
    ];
}
