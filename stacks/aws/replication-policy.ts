// The S3 replication role's permissions, as data: read one source, write one replica, use their
// keys only through S3. Deletions are never replicated (no s3:ReplicateDelete).
import { viaS3 } from "../s3/grants";
import { type Statement } from "../s3/bucket";

/** Actions the replication role needs on a source's objects; Object Lock metadata only when the source is locked. */
export function sourceObjectActions(locked: boolean): string[] {
    return [
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionTagging",
        ...(locked ? ["s3:GetObjectLegalHold", "s3:GetObjectRetention"] : []),
    ];
}

/** The replication role's permissions: one source, one replica, and their keys through S3 only. */
export function replicationStatements(args: {
    source: string;
    replica: string;
    sourceRegion: string;
    replicaRegion: string;
    partition: string;
    locked: boolean;
    sourceKeyArn?: string;
    replicaKeyArn?: string;
}): Statement[] {
    // Replication reads and writes whole buckets: every object of the source, every replica.
    const through = (region: string, bucket: string) => viaS3(region, args.partition, bucket, [`${bucket}/*`]);
    return [
        {
            Sid: "ReadSourceConfiguration",
            Effect: "Allow",
            Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            Resource: args.source,
        },
        { Sid: "ReadSourceVersions", Effect: "Allow", Action: sourceObjectActions(args.locked), Resource: `${args.source}/*` },
        // ReplicateDelete is deliberately absent: deletions stay in the source.
        { Sid: "WriteReplicas", Effect: "Allow", Action: ["s3:ReplicateObject", "s3:ReplicateTags"], Resource: `${args.replica}/*` },
        ...(args.sourceKeyArn !== undefined
            ? [
                  {
                      Sid: "DecryptSource",
                      Effect: "Allow" as const,
                      Action: ["kms:Decrypt"],
                      Resource: args.sourceKeyArn,
                      Condition: through(args.sourceRegion, args.source),
                  },
              ]
            : []),
        ...(args.replicaKeyArn !== undefined
            ? [
                  {
                      Sid: "EncryptReplicas",
                      Effect: "Allow" as const,
                      Action: ["kms:Encrypt", "kms:GenerateDataKey"],
                      Resource: args.replicaKeyArn,
                      Condition: through(args.replicaRegion, args.replica),
                  },
              ]
            : []),
    ];
}
