// backup:velero.
import { z } from "zod";
import { cron5, dnsLabel, dnsSubdomain, namespaceName, pinnedImage, resources, ttl } from "./formats";

export const veleroSchedule = z.strictObject({
    /** Five-field cron, UTC. */
    schedule: cron5,
    /** How long Velero keeps each backup, e.g. 720h. */
    ttl: ttl,
    /** Namespaces to include; default: the stack's `namespaces`. Ignored when includeClusterResources covers all. */
    includedNamespaces: z.array(namespaceName).optional(),
    /** Back up cluster-scoped resources and every namespace (a full-cluster backup). Default false. */
    includeClusterResources: z.boolean().default(false),
});

/** Default Velero schedules, from seed 001 (HA profile). */
export const DEFAULT_VELERO_SCHEDULES = {
    "daily-namespaces": { schedule: "0 2 * * *", ttl: "720h", includeClusterResources: false },
    "weekly-full": { schedule: "0 3 * * 0", ttl: "2160h", includeClusterResources: true },
};

export const velero = z
    .strictObject({
        /** Namespace Velero runs in. Default velero. */
        namespace: namespaceName.default("velero"),
        /** Velero server service account; fixed so the IRSA trust condition matches. Default velero-server. */
        serviceAccount: dnsLabel("a service account name").default("velero-server"),
        /** Object prefix inside the velero bucket. Default none. */
        prefix: z
            .string()
            .regex(/^([a-z0-9][a-z0-9-]*)?$/, "a prefix must be lowercase letters, digits and '-'")
            .default(""),
        /** Schedules, by name (used only when `ha` is true). Default: daily-namespaces and weekly-full. */
        schedules: z.record(dnsLabel("a schedule name"), veleroSchedule).default(DEFAULT_VELERO_SCHEDULES),
        /** Server resources. Default the seed's base (100m/128Mi requests, 500m/512Mi limits); the AWS stack sets the reduced ones. */
        resources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } }),
        /** velero-plugin-for-aws image. Default velero/velero-plugin-for-aws:v1.13.0 (seed). */
        pluginImage: pinnedImage.default("velero/velero-plugin-for-aws:v1.13.0"),
        /**
         * Where Velero's CRDs come from. `chart` (default): the chart's `crds/` folder, as stack resources that
         * `pulumi preview` diffs and `up` updates in place (retained on delete). `job`: a Job (the chart's own CRD hook
         * Job, as this program registers it) applies the CRDs of the Velero server image itself (`velero install
         * --crds-only`, through the kubectl image's binary) before the chart is rendered; the CRDs are then not in the
         * stack's state (BENCHMARKS.md 3g), and they always match the server that runs. Needs `kubectlImage`, and a
         * node that can pull it.
         */
        crds: z.enum(["chart", "job"]).default("chart"),
        /** With `crds: job` (needed, refused otherwise): the image the CRD Job copies `sh` and `kubectl` from, pinned. */
        kubectlImage: pinnedImage.optional(),
        /** Deploy the node agent (file-system backup and snapshot data movement). Default false (CSI snapshots only, as in the seeds). */
        nodeAgent: z.boolean().default(false),
        /**
         * Node agent resources (with nodeAgent). Default 100m/128Mi requests, 1000m/1Gi limits: Velero's own install
         * leaves it BestEffort; since 1.17 the data moves in separate data-mover pods, so the agent itself stays small
         * (the request), and 1000m/1Gi (Velero's node agent limits from before then) bounds it.
         */
        nodeAgentResources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1000m", memory: "1Gi" } }),
        /** Move CSI snapshot data into the bucket (needs nodeAgent). Default false. */
        snapshotMoveData: z.boolean().default(false),
        /**
         * Native EBS snapshots (a VolumeSnapshotLocation of the aws provider) besides CSI; AWS only. Default
         * false: CSI snapshots need no AWS permission, so Velero's role gets no EC2 action at all.
         */
        nativeSnapshots: z.boolean().default(false),
        /**
         * StorageClasses whose volumes Velero's backups capture (a CSI driver with a VolumeSnapshotClass Velero uses).
         * When set, `npm run verify` and the PersistentVolumeClaimNotBackedUp alert count a PVC in a Velero namespace
         * as covered only if its class is listed. Default: not checked (every class counts), as nothing in the stack
         * can see which drivers snapshot.
         */
        snapshotStorageClasses: z
            .array(dnsSubdomain("a StorageClass name"))
            .min(1, "list at least one StorageClass, or leave the key out")
            .optional(),
    })
    .prefault({});

/** A label key: optional DNS prefix and '/', then a name of at most 63 characters. */
