// Velero (chart 11.3.2) wired to the velero backup target: IRSA on AWS, a credentials Secret on
// S3-compatible storage, schedules and security contexts in the HA profile.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type Resources } from "../core/workloads";
import { type BackupTarget } from "../core/targets";
import { CHARTS, chartSource } from "./charts";
import { type PodSecurityLevel } from "./namespaces";
import { chartTransforms, owned, stackFieldManager } from "../core/ownership";

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
    /**
     * Where the CRDs come from: the chart's `crds/` folder as stack resources (`chart`), or a Job (the chart's CRD hook
     * template, registered by this component) that applies the server image's own CRDs and keeps them out of the state.
     */
    readonly crds: "chart" | "job";
    /** The image the CRD Job copies `sh` and `kubectl` from (needed with `crds: job`). */
    readonly kubectlImage?: string;
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

/** The CRD Job (`crds: job`), named as the chart's own hook Job, whose template it follows (upgrade-crds.yaml). */
export const CRD_JOB = "velero-upgrade-crds";

/** The server pods' annotation naming the CRD Job they started after (its uid). */
const CRD_JOB_ANNOTATION = "backup.platform/crds-applied-by";

/** The server image of chart 11.3.2 (its appVersion), pinned here for the chart and for the CRD Job alike. */
export const VELERO_IMAGE = { repository: "velero/velero", tag: "v1.17.1" } as const;

/** How the CRD Job applies what `velero install --crds-only` prints. */
const CRD_APPLY = '/tmp/kubectl apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" -f -';

/** Requests and limits of the CRD Job's container (`velero install --crds-only | kubectl apply`). */
const CRD_JOB_RESOURCES: Resources = { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } };

/** The pod security context of every Velero pod this program runs (Pod Security `restricted`). */
const POD_SECURITY_CONTEXT = { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } };

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

/** The chart values for `args`, and the CRD Job the server starts after (pure, so tests and the schema check can call it). */
export function veleroValues(args: VeleroArgs, crdJob?: k8s.batch.v1.Job): Record<string, pulumi.Input<unknown>> {
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
        // CRDs come from the chart's crds/ folder as ordinary resources Pulumi updates in place (`crds: chart`), or
        // from the program's CRD Job (`crds: job`, crdJob below); the chart's own pre-upgrade hook Job is not rendered.
        upgradeCRDs: false,
        image: { ...VELERO_IMAGE },
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
        // With the CRD Job, the server's pods carry its uid: a new Job (new CRDs) restarts the server on them, as
        // Velero's upgrade guide orders it; and a Job not created yet (a first preview) leaves the chart unrendered
        // until `up`, when its CRDs exist and the provider can scope the chart's BackupStorageLocation and Schedules.
        ...(crdJob ? { podAnnotations: { [CRD_JOB_ANNOTATION]: crdJob.metadata.apply((m) => m.uid ?? "") } } : {}),
    };
    // The seeds set these only in the HA profile; a non-root, read-only Velero costs nothing in
    // non-HA and keeps both profiles inside the policy pack's workload rules.
    values.podSecurityContext = POD_SECURITY_CONTEXT;
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

/**
 * The CRD Job of `crds: job` and its RBAC, as the chart's hook template has them (upgrade-crds/): the kubectl image's
 * init container copies `sh` and `kubectl` into an emptyDir, and the server image prints its own CRDs and applies them.
 * Registered by this program, not rendered by the chart, because the chart must be rendered after it: the Kubernetes
 * provider scopes each object it renders (namespaced or not) from the CRDs it finds, in the render or in the cluster,
 * and without the CRDs (`skipCrds`) it cannot scope the BackupStorageLocation ("failed to determine if the following
 * GVK is namespaced"). Awaited even where the stack skips awaiting: the chart waits for it to complete.
 */
function crdJob(name: string, args: VeleroArgs, kubectlImage: string, opts: pulumi.CustomResourceOptions): k8s.batch.v1.Job {
    const labels = { "app.kubernetes.io/name": "velero", "app.kubernetes.io/component": "upgrade-crds" };
    // The pod's own name label: `app.kubernetes.io/name: velero` selects the server's pods (kubectl, dashboards).
    const podLabels = { "app.kubernetes.io/name": CRD_JOB, "app.kubernetes.io/part-of": "velero" };
    const serviceAccount = new k8s.core.v1.ServiceAccount(
        `${name}-upgrade-crds`,
        { metadata: owned({ name: `${args.serviceAccount}-upgrade-crds`, namespace: args.namespace, labels }) },
        opts,
    );
    const role = new k8s.rbac.v1.ClusterRole(
        `${name}-upgrade-crds`,
        {
            metadata: owned({ name: CRD_JOB, labels }),
            rules: [
                {
                    apiGroups: ["apiextensions.k8s.io"],
                    resources: ["customresourcedefinitions"],
                    verbs: ["create", "patch", "update", "get", "list"],
                },
            ],
        },
        opts,
    );
    const binding = new k8s.rbac.v1.ClusterRoleBinding(
        `${name}-upgrade-crds`,
        {
            metadata: owned({ name: CRD_JOB, labels }),
            subjects: [{ kind: "ServiceAccount", namespace: args.namespace, name: serviceAccount.metadata.name }],
            roleRef: { kind: "ClusterRole", name: role.metadata.name, apiGroup: "rbac.authorization.k8s.io" },
        },
        opts,
    );
    const tmp = [{ mountPath: "/tmp", name: "crds" }];
    return new k8s.batch.v1.Job(
        `${name}-upgrade-crds`,
        {
            metadata: owned({ name: CRD_JOB, namespace: args.namespace, labels }),
            spec: {
                backoffLimit: 3,
                template: {
                    metadata: { labels: podLabels },
                    spec: {
                        serviceAccountName: serviceAccount.metadata.name,
                        restartPolicy: "OnFailure",
                        securityContext: POD_SECURITY_CONTEXT,
                        initContainers: [
                            {
                                name: "kubectl",
                                image: kubectlImage,
                                imagePullPolicy: "IfNotPresent",
                                command: ["/bin/sh"],
                                args: ["-c", "cp `which sh` /tmp && cp `which kubectl` /tmp"],
                                securityContext: CONTAINER_SECURITY_CONTEXT,
                                resources: PLUGIN_INIT_RESOURCES,
                                volumeMounts: tmp,
                            },
                        ],
                        containers: [
                            {
                                name: "velero",
                                image: `${VELERO_IMAGE.repository}:${VELERO_IMAGE.tag}`,
                                imagePullPolicy: "IfNotPresent",
                                command: ["/tmp/sh"],
                                // Server-side, as this stack's field manager (from the environment: no value in the
                                // script): the CRDs have the owner they have with `crds: chart`, so switching modes
                                // either way conflicts with nobody. The chart's hook applies client-side, as
                                // kubectl-client-side-apply, which a later `crds: chart` run conflicted with (measured).
                                args: ["-c", `/velero install --crds-only --dry-run -o yaml | ${CRD_APPLY}`],
                                env: [{ name: "FIELD_MANAGER", value: stackFieldManager() }],
                                securityContext: CONTAINER_SECURITY_CONTEXT,
                                resources: CRD_JOB_RESOURCES,
                                volumeMounts: tmp,
                            },
                        ],
                        volumes: [{ name: "crds", emptyDir: {} }],
                    },
                },
            },
        },
        { ...opts, dependsOn: [binding] },
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
        let job: k8s.batch.v1.Job | undefined;
        if (args.crds === "job") {
            if (args.kubectlImage === undefined)
                throw new Error("crds: job needs kubectlImage (config/section-rules.ts refuses it earlier)");
            job = crdJob(name, args, args.kubectlImage, {
                parent: this,
                dependsOn: args.namespaceResource ? [args.namespaceResource] : [],
            });
            dependsOn.push(job);
        }
        new k8s.helm.v4.Chart(
            name,
            {
                ...chartSource(CHARTS.velero, args.chartPath),
                name: "velero",
                namespace: args.namespace,
                values: veleroValues(args, job),
                skipAwait: args.skipAwait ?? false,
                skipCrds: args.crds === "job",
            },
            { parent: this, dependsOn, transforms: chartTransforms() },
        );
        this.serviceAccount = `${args.namespace}/${args.serviceAccount}`;
        this.registerOutputs({ serviceAccount: this.serviceAccount });
    }
}
