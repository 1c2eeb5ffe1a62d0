// CloudNativePG backups: the backup fields of clusters the application teams own (server-side-apply
// patch), ScheduledBackups, Barman Cloud Plugin ObjectStores, and point-in-time recovery clusters.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Resources } from "../core/workloads";
import { s3Uri, type BackupTarget } from "../core/targets";
import { owned } from "../core/ownership";
import { BARMAN_PLUGIN, objectStoreName, scheduledBackupName } from "../core/names";

/** A new cluster recovered from another's backups (a `cnpg.recoveries` entry). */
export interface Recovery {
    /** The source cluster whose archive it reads. */
    readonly from: string;
    /** The new cluster's name. */
    readonly name: string;
    /** Point in time to recover to (RFC 3339). Default the end of the archive. */
    readonly targetTime?: string;
    readonly instances: number;
    /** PostgreSQL image, pinned; or an image catalog. Default CNPG's. */
    readonly imageName?: string;
    readonly imageCatalog?: { readonly kind: "ImageCatalog" | "ClusterImageCatalog"; readonly name: string; readonly major: number };
    readonly storage: { readonly size: string; readonly storageClass?: string };
    readonly resources: Resources;
}

export type BackupMethod = "barmanObjectStore" | "plugin";

/** Field manager of every patch this program applies to application-owned Clusters. */
export const FIELD_MANAGER = "backup-platform";
/** Secret (per namespace) holding the endpoint CA bundle, when the endpoint uses a private CA. */
export const CA_SECRET = "backup-endpoint-ca";

/**
 * boto3 1.36+ (inside barman-cloud) sends checksums that S3-compatible stores such as older Ceph RGW
 * reject; "when_required" restores the previous behaviour. Only set off AWS.
 */
function checksumEnv(target: BackupTarget): { name: string; value: string }[] {
    return target.endpoint === undefined
        ? []
        : [
              { name: "AWS_REQUEST_CHECKSUM_CALCULATION", value: "when_required" },
              { name: "AWS_RESPONSE_CHECKSUM_VALIDATION", value: "when_required" },
          ];
}

/** The barman object-store stanza shared by the in-tree field, the ObjectStore and externalClusters. */
export function barmanStore(target: BackupTarget, walMaxParallel: number, serverName?: string): Record<string, unknown> {
    const c = target.credentials;
    return {
        destinationPath: s3Uri(target),
        ...(target.endpoint !== undefined ? { endpointURL: target.endpoint } : {}),
        ...(target.caBundle !== undefined ? { endpointCA: { name: CA_SECRET, key: "ca.crt" } } : {}),
        ...(serverName !== undefined ? { serverName } : {}),
        s3Credentials:
            c.kind === "irsa"
                ? { inheritFromIAMRole: true }
                : {
                      accessKeyId: { name: c.secretName, key: c.keys.accessKeyId },
                      secretAccessKey: { name: c.secretName, key: c.keys.secretAccessKey },
                  },
        wal: { compression: "gzip", maxParallel: walMaxParallel },
        data: { compression: "gzip" },
    };
}

/** CNPG's service account carries the IRSA role on AWS; CNPG names it after the cluster. */
function serviceAccountTemplate(target: BackupTarget): Record<string, unknown> {
    return target.credentials.kind === "irsa"
        ? { serviceAccountTemplate: { metadata: { annotations: { "eks.amazonaws.com/role-arn": target.credentials.roleArn } } } }
        : {};
}

/** ObjectStore through which `cluster` (a recovery or drill cluster) reads its source's archive, when it has one of its own. */
export const sourceStoreName = (cluster: string): string => `${cluster}-source`;

/**
 * An ObjectStore carries the credentials the plugin reads with: a reader with keys of its own (a
 * Secret) needs an ObjectStore of its own, or it would read with the source's writer keys. A reader
 * that authenticates as its pods (IRSA) reads through the source's ObjectStore as itself.
 */
export function needsOwnStore(reader: BackupTarget): boolean {
    return reader.credentials.kind === "secret";
}

/**
 * The spec of a reader's own ObjectStore (pure, for tests). The plugin prunes only through a
 * cluster's archiving ObjectStore, and these keys cannot delete anyway: the retention policy is the
 * source's, inert here, and present because every ObjectStore must carry one (policy pack).
 */
export function sourceStoreSpec(reader: BackupTarget, retention: string): Record<string, unknown> {
    const env = checksumEnv(reader);
    return {
        retentionPolicy: retention,
        configuration: barmanStore(reader, 2),
        ...(env.length > 0 ? { instanceSidecarConfiguration: { env } } : {}),
    };
}

/** Name of the externalClusters entry a recovery bootstraps from. */
export const recoveryOrigin = (from: string): string => `${from}-origin`;

/**
 * The externalClusters entry that reads `from`'s archive, with the same method as its backups:
 * through its ObjectStore (plugin) or the in-tree barman stanza. Declared recoveries and restore
 * drills both use it, so a drill restores exactly the way a declared recovery would.
 */
export function recoverySource(
    from: string,
    source: BackupTarget,
    method: BackupMethod,
    store: string = objectStoreName(from),
): Record<string, unknown> {
    return method === "plugin"
        ? {
              name: recoveryOrigin(from),
              plugin: { name: BARMAN_PLUGIN, parameters: { barmanObjectName: store, serverName: from } },
          }
        : { name: recoveryOrigin(from), barmanObjectStore: barmanStore(source, 4, from) };
}

/**
 * The program's part of a restore drill cluster (pure, for tests): bootstrap from `from`'s archive
 * through `reader` (read-only; on AWS its own IRSA role), and no backup section, so the drill
 * archives nowhere. The drill fills in what only the live source knows (image, storage, resources)
 * and the target time.
 */
export function drillClusterSpec(
    from: string,
    reader: BackupTarget,
    method: BackupMethod,
    store: string = objectStoreName(from),
): Record<string, unknown> {
    const env = method === "barmanObjectStore" ? checksumEnv(reader) : [];
    return {
        instances: 1,
        bootstrap: { recovery: { source: recoveryOrigin(from) } },
        externalClusters: [recoverySource(from, reader, method, store)],
        ...(env.length > 0 ? { env } : {}),
        ...serviceAccountTemplate(reader),
    };
}

/** The spec fields this program owns on a Cluster (pure, for tests). */
export function clusterBackupSpec(cluster: string, target: BackupTarget, method: BackupMethod, retention: string): Record<string, unknown> {
    if (method === "plugin") {
        return {
            plugins: [{ name: BARMAN_PLUGIN, isWALArchiver: true, parameters: { barmanObjectName: objectStoreName(cluster) } }],
            ...serviceAccountTemplate(target),
        };
    }
    const env = checksumEnv(target);
    return {
        backup: { target: "prefer-standby", retentionPolicy: retention, barmanObjectStore: barmanStore(target, 2) },
        ...(env.length > 0 ? { env } : {}),
        ...serviceAccountTemplate(target),
    };
}

/** An ObjectStore (barmancloud.cnpg.io/v1) spec for a cluster's archive (pure, for tests). */
export function objectStoreSpec(target: BackupTarget, retention: string): Record<string, unknown> {
    const env = checksumEnv(target);
    return {
        retentionPolicy: retention,
        configuration: barmanStore(target, 2),
        ...(env.length > 0 ? { instanceSidecarConfiguration: { env } } : {}),
    };
}

export interface CnpgBackupsArgs {
    /** Inventory clusters (application-owned). */
    readonly clusters: readonly { readonly name: string; readonly namespace: string }[];
    /** Point-in-time recoveries to create. Default none. */
    readonly recoveries?: readonly Recovery[];
    /** Backup target per cluster name (inventory and recovery clusters). */
    readonly targets: Readonly<Record<string, BackupTarget>>;
    /** How each recovery reads its source's archive, by recovery name (targets.recoverySources). Default: the source's target. */
    readonly readers?: Readonly<Record<string, BackupTarget>>;
    /** barmanObjectStore (in-tree) or plugin (Barman Cloud Plugin). */
    readonly method: BackupMethod;
    /** Retention, e.g. 30d. */
    readonly retention: string;
    /** ScheduledBackup cron, six fields. */
    readonly schedule: string;
    /** Options for recovered clusters, which hold data (retained on destroy). */
    readonly statefulOptions: pulumi.CustomResourceOptions;
}

/** Per cluster: where its backups go and which ScheduledBackup takes them. */
export interface CnpgClusterOutput {
    destination: string;
    method: BackupMethod;
    scheduledBackup?: string;
    recoveredFrom?: string;
}

export class CnpgBackups extends pulumi.ComponentResource {
    public readonly clusters: Record<string, CnpgClusterOutput> = {};

    constructor(name: string, args: CnpgBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:CnpgBackups", name, {}, opts);
        const caSecrets = this.caSecrets(name, args);
        const target = (cluster: string): BackupTarget => {
            const t = args.targets[cluster];
            if (t === undefined) throw new Error(`no backup target for CNPG cluster ${cluster}`);
            return t;
        };
        const prerequisites = (t: BackupTarget, namespace: string): pulumi.Resource[] => [
            ...t.dependsOn,
            ...(caSecrets.get(namespace) ?? []),
        ];

        for (const db of args.clusters) {
            const t = target(db.name);
            const deps = prerequisites(t, db.namespace);
            if (args.method === "plugin") deps.push(this.objectStore(`${name}-${db.name}`, db.name, db.namespace, t, args.retention, deps));
            const patch = new k8s.apiextensions.CustomResourcePatch(
                `${name}-${db.name}`,
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    metadata: {
                        name: db.name,
                        namespace: db.namespace,
                        annotations: {
                            // Only the backup fields are ours; the rest of the Cluster stays with its owners.
                            "pulumi.com/patchFieldManager": FIELD_MANAGER,
                            "pulumi.com/patchForce": "true",
                        },
                    },
                    spec: clusterBackupSpec(db.name, t, args.method, args.retention),
                },
                { parent: this, dependsOn: deps },
            );
            new k8s.apiextensions.CustomResource(
                `${name}-${db.name}-scheduled`,
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "ScheduledBackup",
                    metadata: owned({
                        name: scheduledBackupName(db.name),
                        namespace: db.namespace,
                        labels: { "app.kubernetes.io/part-of": "backup-platform" },
                    }),
                    spec: {
                        schedule: args.schedule,
                        immediate: true,
                        backupOwnerReference: "self",
                        cluster: { name: db.name },
                        method: args.method,
                        ...(args.method === "plugin" ? { pluginConfiguration: { name: BARMAN_PLUGIN }, target: "prefer-standby" } : {}),
                    },
                },
                { parent: this, dependsOn: [patch] },
            );
            this.clusters[db.name] = {
                destination: s3Uri(t),
                method: args.method,
                scheduledBackup: `${db.namespace}/${scheduledBackupName(db.name)}`,
            };
        }

        for (const r of args.recoveries ?? []) {
            const source = args.clusters.find((c) => c.name === r.from);
            if (source === undefined) throw new Error(`recovery ${r.name}: unknown source ${r.from}`);
            const reader = args.readers?.[r.name] ?? target(r.from);
            const deps = [...prerequisites(target(r.name), source.namespace), ...(reader === target(r.from) ? [] : reader.dependsOn)];
            this.recovery(name, r, source.namespace, reader, target(r.name), args, deps);
        }
        this.registerOutputs({ clusters: this.clusters });
    }

    /** One CA Secret per namespace that needs it. */
    private caSecrets(name: string, args: CnpgBackupsArgs): Map<string, pulumi.Resource[]> {
        const byNamespace = new Map<string, pulumi.Resource[]>();
        const namespaces = new Map(args.clusters.map((c) => [c.namespace, args.targets[c.name]?.caBundle]));
        for (const [namespace, caBundle] of namespaces) {
            if (caBundle === undefined) continue;
            byNamespace.set(namespace, [
                new k8s.core.v1.Secret(
                    `${name}-ca-${namespace}`,
                    { metadata: owned({ name: CA_SECRET, namespace }), type: "Opaque", stringData: { "ca.crt": caBundle } },
                    { parent: this },
                ),
            ]);
        }
        return byNamespace;
    }

    private objectStore(
        id: string,
        cluster: string,
        namespace: string,
        t: BackupTarget,
        retention: string,
        deps: pulumi.Resource[],
    ): pulumi.Resource {
        return new k8s.apiextensions.CustomResource(
            `${id}-objectstore`,
            {
                apiVersion: "barmancloud.cnpg.io/v1",
                kind: "ObjectStore",
                metadata: owned({ name: objectStoreName(cluster), namespace, labels: { "app.kubernetes.io/part-of": "backup-platform" } }),
                spec: objectStoreSpec(t, retention),
            },
            { parent: this, dependsOn: [...deps] },
        );
    }

    /** A new Cluster bootstrapped from `source`'s backups (read through `source`), archiving under its own prefix. */
    private recovery(
        name: string,
        r: Recovery,
        namespace: string,
        source: BackupTarget,
        own: BackupTarget,
        args: CnpgBackupsArgs,
        deps: pulumi.Resource[],
    ): void {
        const origin = recoveryOrigin(r.from);
        let store = objectStoreName(r.from);
        if (args.method === "plugin") {
            // Falling back to the source's own target, the source's ObjectStore already carries its keys.
            if (source !== args.targets[r.from] && needsOwnStore(source)) {
                store = sourceStoreName(r.name);
                deps.push(
                    new k8s.apiextensions.CustomResource(
                        `${name}-${r.name}-source`,
                        {
                            apiVersion: "barmancloud.cnpg.io/v1",
                            kind: "ObjectStore",
                            metadata: owned({ name: store, namespace, labels: { "app.kubernetes.io/part-of": "backup-platform" } }),
                            spec: sourceStoreSpec(source, args.retention),
                        },
                        { parent: this, dependsOn: [...deps] },
                    ),
                );
            }
            deps.push(this.objectStore(`${name}-${r.name}`, r.name, namespace, own, args.retention, deps));
        }
        const externalCluster = recoverySource(r.from, source, args.method, store);
        const image = r.imageName
            ? { imageName: r.imageName }
            : r.imageCatalog
              ? {
                    imageCatalogRef: {
                        apiGroup: "postgresql.cnpg.io",
                        kind: r.imageCatalog.kind,
                        name: r.imageCatalog.name,
                        major: r.imageCatalog.major,
                    },
                }
              : {};
        new k8s.apiextensions.CustomResource(
            `${name}-${r.name}-recovery`,
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: owned({
                    name: r.name,
                    namespace,
                    labels: { "app.kubernetes.io/part-of": "backup-platform", "backup.platform/recovered-from": r.from },
                }),
                spec: {
                    instances: r.instances,
                    ...image,
                    storage: { size: r.storage.size, ...(r.storage.storageClass ? { storageClass: r.storage.storageClass } : {}) },
                    resources: r.resources,
                    bootstrap: { recovery: { source: origin, ...(r.targetTime ? { recoveryTarget: { targetTime: r.targetTime } } : {}) } },
                    externalClusters: [externalCluster],
                    // Its own archive and server name: a recovered cluster never writes into its source's archive.
                    ...clusterBackupSpec(r.name, own, args.method, args.retention),
                },
            },
            { ...args.statefulOptions, parent: this, dependsOn: deps },
        );
        this.clusters[r.name] = { destination: s3Uri(own), method: args.method, recoveredFrom: `${namespace}/${r.from}` };
    }
}
