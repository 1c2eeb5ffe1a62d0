// The off-site copy job: a CronJob that copies every backup bucket to a bucket elsewhere with
// rclone. `copy`, never `sync`: nothing is ever deleted at the destination (old copies expire by
// the destination's own lifecycle). Checksums are compared and verified, the bandwidth is capped,
// and no key appears in argv: rclone reads both remotes from RCLONE_CONFIG_<REMOTE>_* variables,
// the keys from a Secret.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Resources } from "../core/workloads";
import { type OffsiteDestination, type ReplicationSource } from "../core/targets";
import { cronJobPolicy } from "../core/cronjob";
import { type PodSecurityLevel } from "./namespaces";
import { owned } from "../core/ownership";
import { OFFSITE_CRONJOB, PART_OF } from "../core/names";
import { cronIntervalDays } from "../core/schedule";
import { jobPath, ScheduledJob } from "../core/jobs";

/** Secret holding the source (and, for a program-created destination, the destination) keys. */
export const OFFSITE_SECRET = "offsite-s3-credentials";
/** ConfigMap with the source endpoint's private CA, when there is one. */
const CA_CONFIGMAP = "offsite-endpoint-ca";
/** The copy pod is non-root, read-only, without capabilities, with emptyDir and ConfigMap volumes only. */
export const OFFSITE_POD_SECURITY: PodSecurityLevel = "restricted";
/** nobody: rclone needs no identity of its own. */
const UID = 65534;

/** The copy loop: one `rclone copy` per bucket, so one failing bucket does not stop the others. Pure, for tests. */
export function copyScript(bandwidthLimit: string): string {
    return [
        "set -u",
        'failed=""',
        'for bucket in "$@"; do',
        '  echo "offsite: copying bucket ${bucket} to ${DESTINATION}/${bucket}"',
        // --checksum: compare by hash and size, not modification time (rclone also verifies each transfer's hash).
        `  rclone copy "src:\${bucket}" "dst:\${DESTINATION}/\${bucket}" --checksum --bwlimit ${bandwidthLimit} --fast-list --log-level INFO --stats 1m --stats-one-line || failed="\${failed} \${bucket}"`,
        "done",
        'if [ -n "${failed}" ]; then echo "offsite: copy failed for:${failed}" >&2; exit 1; fi',
        'echo "offsite: every bucket copied"',
    ].join("\n");
}

export interface OffsiteCopyArgs {
    /** What to copy: every backup bucket, as the read-only replicator. */
    readonly source: ReplicationSource;
    /** Where to copy to. */
    readonly destination: OffsiteDestination;
    /** Namespace of the job (created by the program). */
    readonly namespace: string;
    /** The Namespace resource, so everything inside waits for it. Default none. */
    readonly namespaceResource?: pulumi.Resource;
    /** Five-field cron, UTC. */
    readonly schedule: string;
    /** rclone --bwlimit value, e.g. 20M. */
    readonly bandwidthLimit: string;
    /** rclone image, pinned. */
    readonly image: string;
    /** Job resources. */
    readonly resources: Resources;
}

/** An environment variable's value from a key of a Secret. */
const fromSecret = (secretName: string, key: string) => ({ valueFrom: { secretKeyRef: { name: secretName, key } } });

/** rclone's configuration of both remotes, as environment variables; `withCa`: the source's private CA is mounted. */
function rcloneEnv(source: ReplicationSource, dst: OffsiteDestination, withCa: boolean): k8s.types.input.core.v1.EnvVar[] {
    const dstKeys =
        dst.credentials.kind === "secret"
            ? {
                  id: fromSecret(dst.credentials.secretName, dst.credentials.keys.accessKeyId),
                  secret: fromSecret(dst.credentials.secretName, dst.credentials.keys.secretAccessKey),
              }
            : { id: fromSecret(OFFSITE_SECRET, "DST_ACCESS_KEY_ID"), secret: fromSecret(OFFSITE_SECRET, "DST_SECRET_ACCESS_KEY") };
    return [
        { name: "DESTINATION", value: [dst.bucket, dst.prefix].filter((p) => p !== "").join("/") },
        { name: "HOME", value: "/tmp" },
        { name: "XDG_CACHE_HOME", value: "/tmp/cache" },
        // The source: RGW, path-style, read-only keys.
        { name: "RCLONE_CONFIG_SRC_TYPE", value: "s3" },
        { name: "RCLONE_CONFIG_SRC_PROVIDER", value: "Ceph" },
        { name: "RCLONE_CONFIG_SRC_ENDPOINT", value: source.endpoint },
        { name: "RCLONE_CONFIG_SRC_REGION", value: source.region },
        { name: "RCLONE_CONFIG_SRC_FORCE_PATH_STYLE", value: "true" },
        { name: "RCLONE_CONFIG_SRC_ACCESS_KEY_ID", ...fromSecret(OFFSITE_SECRET, "SRC_ACCESS_KEY_ID") },
        { name: "RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY", ...fromSecret(OFFSITE_SECRET, "SRC_SECRET_ACCESS_KEY") },
        // The destination: never created or checked by rclone (the writer may not create buckets).
        { name: "RCLONE_CONFIG_DST_TYPE", value: "s3" },
        { name: "RCLONE_CONFIG_DST_PROVIDER", value: dst.provider },
        { name: "RCLONE_CONFIG_DST_REGION", value: dst.region },
        ...(dst.endpoint !== undefined ? [{ name: "RCLONE_CONFIG_DST_ENDPOINT", value: dst.endpoint }] : []),
        { name: "RCLONE_CONFIG_DST_NO_CHECK_BUCKET", value: "true" },
        { name: "RCLONE_CONFIG_DST_ACCESS_KEY_ID", ...dstKeys.id },
        { name: "RCLONE_CONFIG_DST_SECRET_ACCESS_KEY", ...dstKeys.secret },
        // SSE-KMS objects carry no MD5 ETag: telling rclone makes it verify against its own MD5 metadata instead.
        ...(dst.kmsKeyArn !== undefined
            ? [
                  { name: "RCLONE_CONFIG_DST_SERVER_SIDE_ENCRYPTION", value: "aws:kms" },
                  { name: "RCLONE_CONFIG_DST_SSE_KMS_KEY_ID", value: dst.kmsKeyArn },
              ]
            : []),
        // A private CA is added to the system roots (Go reads every directory listed), not substituted for them.
        ...(withCa ? [{ name: "SSL_CERT_DIR", value: "/etc/ssl/certs:/etc/backup-ca" }] : []),
    ];
}

/** The copy pod: rclone over every source bucket, non-root and read-only; `withCa`: the source's private CA mounted. */
function copyPod(args: OffsiteCopyArgs, withCa: boolean): k8s.types.input.core.v1.PodSpec {
    return {
        restartPolicy: "Never",
        automountServiceAccountToken: false,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: UID,
            runAsGroup: UID,
            fsGroup: UID,
            seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
            {
                name: "rclone",
                image: args.image,
                command: ["/bin/sh", "-c", copyScript(args.bandwidthLimit), OFFSITE_CRONJOB],
                args: [...args.source.buckets],
                env: rcloneEnv(args.source, args.destination, withCa),
                resources: args.resources,
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                volumeMounts: [
                    { name: "tmp", mountPath: "/tmp" },
                    ...(withCa ? [{ name: "ca", mountPath: "/etc/backup-ca", readOnly: true }] : []),
                ],
            },
        ],
        volumes: [
            { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
            ...(withCa ? [{ name: "ca", configMap: { name: CA_CONFIGMAP } }] : []),
        ],
    };
}

/** The credentials Secret, the CA ConfigMap and the copy CronJob. */
export class OffsiteCopy extends pulumi.ComponentResource {
    /** namespace/name of the CronJob. */
    /** The copy CronJob. */
    public readonly job: ScheduledJob;

    constructor(name: string, args: OffsiteCopyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:OffsiteCopy", name, {}, opts);
        const { source, destination: dst, namespace } = args;
        const labels = { "app.kubernetes.io/name": OFFSITE_CRONJOB, ...PART_OF };
        const inNamespace = args.namespaceResource ? [args.namespaceResource] : [];
        const secret = this.credentials(name, args, labels, inNamespace);
        const ca =
            source.caBundle !== undefined
                ? new k8s.core.v1.ConfigMap(
                      `${name}-ca`,
                      { metadata: owned({ name: CA_CONFIGMAP, namespace, labels }), data: { "ca.crt": source.caBundle } },
                      { parent: this, dependsOn: inNamespace },
                  )
                : undefined;
        new k8s.batch.v1.CronJob(
            `${name}-copy`,
            {
                metadata: owned({ name: OFFSITE_CRONJOB, namespace, labels }),
                spec: {
                    ...cronJobPolicy(args.schedule, 3600),
                    jobTemplate: {
                        metadata: { labels },
                        spec: {
                            backoffLimit: 2,
                            // A first copy of a large archive may take long; it must end before the next run is due.
                            activeDeadlineSeconds: cronIntervalDays(args.schedule) * 86400 - 3600,
                            ttlSecondsAfterFinished: 7 * 86400,
                            template: { metadata: { labels }, spec: copyPod(args, ca !== undefined) },
                        },
                    },
                },
            },
            { parent: this, dependsOn: [secret, ...(ca ? [ca] : []), ...source.dependsOn, ...dst.dependsOn] },
        );
        this.job = { namespace, cronJob: OFFSITE_CRONJOB, schedule: args.schedule };
        this.registerOutputs({ cronJob: jobPath(this.job) });
    }

    /** The Secret with the source's keys and, for a destination the program created, the destination's. */
    private credentials(
        name: string,
        args: OffsiteCopyArgs,
        labels: Record<string, string>,
        dependsOn: pulumi.Resource[],
    ): pulumi.Resource {
        const { source, destination: dst, namespace } = args;
        const programKeys = dst.credentials.kind === "keys" ? dst.credentials : undefined;
        return new k8s.core.v1.Secret(
            `${name}-credentials`,
            {
                metadata: owned({ name: OFFSITE_SECRET, namespace, labels }),
                type: "Opaque",
                stringData: {
                    SRC_ACCESS_KEY_ID: pulumi.secret(source.accessKeyId),
                    SRC_SECRET_ACCESS_KEY: pulumi.secret(source.secretAccessKey),
                    ...(programKeys
                        ? {
                              DST_ACCESS_KEY_ID: pulumi.secret(programKeys.accessKeyId),
                              DST_SECRET_ACCESS_KEY: pulumi.secret(programKeys.secretAccessKey),
                          }
                        : {}),
                },
            },
            { parent: this, dependsOn },
        );
    }
}
