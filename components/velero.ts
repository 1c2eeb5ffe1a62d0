// Velero (chart 11.3.2) wired to the velero backup target: IRSA on AWS, a credentials Secret on
// S3-compatible storage, schedules and security contexts in the HA profile.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type Resources } from "../core/workloads";
import { type BackupTarget } from "../core/targets";
import { CHARTS, chartSource } from "./charts";
import { type PodSecurityLevel } from "./namespaces";
import { chartTransforms } from "../core/ownership";

/** One Velero Schedule. */
export interface VeleroSchedule {
    /** Five-field cron, UTC. */
    readonly schedule: string;
    /** How long its backups are kept, in hours (`720h`). */
    readonly ttl: string;
    /** Namespaces to back up. Default all. */
    readonly includedNamespaces?: readonly string[];
    /** Cluster-scoped resources too (a full-cluster backup). */
    readonly includeClusterResources: boolean;
}

export interface VeleroArgs {
    /** Where backups go and how Velero authenticates. */
    readonly target: BackupTarget;
    /** Namespace Velero runs in. */
    readonly namespace: string;
    /** The resource creating that namespace, when this program creates it. Default none. */
    readonly namespaceResource?: pulumi.Resource;
    /** Velero server service account name; an IRSA trust policy names it. */
    readonly serviceAccount: string;
    /** HA profile: schedules and ServiceMonitor. */
    readonly ha: boolean;
    /** Schedules by name (HA only). */
    readonly schedules: Readonly<Record<string, VeleroSchedule>>;
    /** Namespaces a schedule includes when it lists none. */
    readonly defaultNamespaces: readonly string[];
    /** Server resources. */
    readonly resources: Resources;
    /** velero-plugin-for-aws image, pinned. */
    readonly pluginImage: string;
    /** Deploy the node agent. */
    readonly nodeAgent: boolean;
    /** Node agent resources (used with `nodeAgent`). */
    readonly nodeAgentResources: Resources;
    /** The kopia repository password to keep (a secret). Default: generated once (RandomPassword). */
    readonly repositoryPassword?: pulumi.Input<string>;
    /** Move CSI snapshot data to the bucket (needs the node agent). */
    readonly snapshotMoveData: boolean;
    /** Native snapshots through a VolumeSnapshotLocation of the aws provider in the target's region. Default false (CSI only). */
    readonly nativeSnapshots?: boolean;
    /** Local chart path instead of the pinned repository. Default none. */
    readonly chartPath?: string;
    /** Skip waiting for readiness (local API servers). Default false. */
    readonly skipAwait?: boolean;
    /** Options for the kopia repository password Secret (retained: losing it loses the kopia backups). */
    readonly statefulOptions: pulumi.CustomResourceOptions;
}

/** Name of the Secret Velero reads its kopia repository password from. */
export const REPO_CREDENTIALS_SECRET = "velero-repo-credentials";

/** Non-root, read-only, no privilege escalation, no capabilities: what Pod Security `restricted` asks of a container. */
const CONTAINER_SECURITY_CONTEXT = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

/** The plugin init container only copies one binary into the shared volume. */
const PLUGIN_INIT_RESOURCES: Resources = { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } };

/**
 * The Pod Security level Velero's namespace can enforce. The server and its plugin init container meet `restricted`;
 * the node agent mounts the kubelet's pod and plugin directories as hostPath volumes (and Velero's fs-backup data
 * mover pods, in the same namespace, may run privileged), which even `baseline` forbids: with it, `privileged`.
 */
export function veleroPodSecurity(nodeAgent: boolean): PodSecurityLevel {
    return nodeAgent ? "privileged" : "restricted";
}

/** The default BackupStorageLocation: the target's bucket and prefix, and on S3-compatible storage its endpoint. */
function backupStorageLocation(t: BackupTarget): Record<string, unknown> {
    const s3Compatible = t.endpoint !== undefined;
    const bslConfig: Record<string, string> = { region: t.region };
    if (s3Compatible) {
        bslConfig.s3ForcePathStyle = String(t.forcePathStyle);
        bslConfig.s3Url = t.endpoint;
        // velero-plugin-for-aws 1.10+ sends CRC32 checksums by default; Ceph RGW rejects them.
        bslConfig.checksumAlgorithm = "";
    }
    const bsl: Record<string, unknown> = { name: "default", provider: "aws", bucket: t.bucket, default: true, config: bslConfig };
    if (t.prefix !== "") bsl.prefix = t.prefix;
    if (t.caBundle !== undefined) bsl.caCert = Buffer.from(t.caBundle).toString("base64");
    return bsl;
}

/** The chart values for `args` (pure, so tests and the schema check can call it). */
export function veleroValues(args: VeleroArgs): Record<string, pulumi.Input<unknown>> {
    const t = args.target;
    const irsa = t.credentials.kind === "irsa" ? t.credentials : undefined;
    const values: Record<string, pulumi.Input<unknown>> = {
        resources: args.resources,
        initContainers: [
            {
                name: "velero-plugin-for-aws",
                image: args.pluginImage,
                imagePullPolicy: "IfNotPresent",
                volumeMounts: [{ mountPath: "/target", name: "plugins" }],
                // The chart passes init containers through as given: without these the pod fails `restricted`.
                securityContext: CONTAINER_SECURITY_CONTEXT,
                resources: PLUGIN_INIT_RESOURCES,
            },
        ],
        configuration: {
            features: "EnableCSI",
            backupStorageLocation: [backupStorageLocation(t)],
            volumeSnapshotLocation: args.nativeSnapshots ? [{ name: "default", provider: "aws", config: { region: t.region } }] : [],
        },
        // CSI snapshots go through EnableCSI and need no location; without this the chart would
        // still expect a snapshot provider.
        snapshotsEnabled: args.nativeSnapshots === true,
        // CRDs come from the chart's crds/ folder as ordinary resources Pulumi updates in place;
        // the chart's pre-upgrade hook Job (kubectl image) is not needed and not rendered.
        upgradeCRDs: false,
        credentials: t.credentials.kind === "secret" ? { useSecret: true, existingSecret: t.credentials.secretName } : { useSecret: false },
        serviceAccount: {
            server: {
                create: true,
                name: args.serviceAccount,
                ...(irsa ? { annotations: { "eks.amazonaws.com/role-arn": irsa.roleArn } } : {}),
            },
        },
        deployNodeAgent: args.nodeAgent,
        // The chart's default is none (Velero's own install leaves the node agent BestEffort).
        ...(args.nodeAgent ? { nodeAgent: { resources: args.nodeAgentResources } } : {}),
        metrics: {
            enabled: true,
            serviceMonitor: { enabled: args.ha, additionalLabels: { release: "prometheus" } },
        },
        schedules: args.ha ? schedules(args) : {},
        kubectl: { image: { repository: "public.ecr.aws/bitnami/kubectl" } },
    };
    // The seeds set these only in the HA profile; a non-root, read-only Velero costs nothing in
    // non-HA and keeps both profiles inside the policy pack's workload rules.
    values.podSecurityContext = { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } };
    values.containerSecurityContext = CONTAINER_SECURITY_CONTEXT;
    return values;
}

function schedules(args: VeleroArgs): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(args.schedules).map(([name, s]) => [
            name,
            {
                disabled: false,
                schedule: s.schedule,
                useOwnerReferencesInBackup: false,
                template: {
                    ttl: s.ttl,
                    storageLocation: "default",
                    ...(s.includeClusterResources
                        ? { includeClusterResources: true }
                        : { includedNamespaces: [...(s.includedNamespaces ?? args.defaultNamespaces)] }),
                    snapshotMoveData: args.snapshotMoveData,
                },
            },
        ]),
    );
}

/** Velero from the pinned chart (or a local copy), wired to its backup target. */
export class Velero extends pulumi.ComponentResource {
    /** The service account Velero runs as (namespace/name). */
    public readonly serviceAccount: string;

    constructor(name: string, args: VeleroArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:Velero", name, {}, opts);
        const dependsOn: pulumi.Resource[] = [...args.target.dependsOn, ...(args.namespaceResource ? [args.namespaceResource] : [])];
        if (args.nodeAgent) {
            // Velero falls back to a well-known static password when this Secret is missing.
            const password =
                args.repositoryPassword ??
                new random.RandomPassword(`${name}-repo-password`, { length: 48, special: false }, { parent: this }).result;
            dependsOn.push(
                new k8s.core.v1.Secret(
                    `${name}-repo-credentials`,
                    {
                        // The provider's own random field manager, not the stack's (components/ownership.ts): a new
                        // password over an existing kopia repository would make every file-system backup unreadable.
                        metadata: { name: REPO_CREDENTIALS_SECRET, namespace: args.namespace },
                        type: "Opaque",
                        stringData: { "repository-password": pulumi.secret(password) },
                    },
                    { ...args.statefulOptions, parent: this, dependsOn: args.namespaceResource ? [args.namespaceResource] : [] },
                ),
            );
        }
        new k8s.helm.v4.Chart(
            name,
            {
                ...chartSource(CHARTS.velero, args.chartPath),
                name: "velero",
                namespace: args.namespace,
                values: veleroValues(args),
                skipAwait: args.skipAwait ?? false,
            },
            { parent: this, dependsOn, transforms: chartTransforms() },
        );
        this.serviceAccount = `${args.namespace}/${args.serviceAccount}`;
        this.registerOutputs({ serviceAccount: this.serviceAccount });
    }
}
