// CloudNativePG backups: the backup fields of clusters the application teams own (server-side-apply
// patch), ScheduledBackups, Barman Cloud Plugin ObjectStores, and point-in-time recovery clusters.
// The specs they carry are built in specs.ts (pure, shared with restore drills).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { s3Uri, type BackupTarget } from "../../core/targets";
import { owned } from "../../core/ownership";
import { BARMAN_PLUGIN, objectStoreName, PART_OF, scheduledBackupName } from "../../core/names";
import {
    CA_SECRET,
    clusterBackupSpec,
    needsOwnStore,
    objectStoreSpec,
    recoveryImage,
    recoveryOrigin,
    recoverySource,
    sourceStoreName,
    sourceStoreSpec,
    type BackupMethod,
    type Recovery,
} from "./specs";

export {
    barmanStore,
    CA_SECRET,
    clusterBackupSpec,
    drillClusterSpec,
    needsOwnStore,
    objectStoreSpec,
    recoveryOrigin,
    recoverySource,
    sourceStoreName,
    sourceStoreSpec,
    type BackupMethod,
    type Recovery,
} from "./specs";

/** Field manager of every patch this program applies to application-owned Clusters. */
export const FIELD_MANAGER = "backup-platform";

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

/** The backup target of `cluster`; a cluster without one is a configuration error. */
function targetOf(args: CnpgBackupsArgs, cluster: string): BackupTarget {
    const t = args.targets[cluster];
    if (t === undefined) throw new Error(`no backup target for CNPG cluster ${cluster}`);
    return t;
}

export class CnpgBackups extends pulumi.ComponentResource {
    public readonly clusters: Record<string, CnpgClusterOutput> = {};

    constructor(name: string, args: CnpgBackupsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:CnpgBackups", name, {}, opts);
        const caSecrets = this.caSecrets(name, args);
        const target = (cluster: string): BackupTarget => targetOf(args, cluster);
        const prerequisites = (t: BackupTarget, namespace: string): pulumi.Resource[] => [
            ...t.dependsOn,
            ...(caSecrets.get(namespace) ?? []),
        ];

        for (const db of args.clusters) {
            const t = target(db.name);
            this.backedUp(name, db, t, args, prerequisites(t, db.namespace));
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

    /** An inventory cluster's backups: its ObjectStore (plugin), the patch of its backup fields, its ScheduledBackup. */
    private backedUp(
        name: string,
        db: { readonly name: string; readonly namespace: string },
        t: BackupTarget,
        args: CnpgBackupsArgs,
        deps: pulumi.Resource[],
    ): void {
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
                    labels: PART_OF,
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
        return this.objectStoreResource(`${id}-objectstore`, objectStoreName(cluster), namespace, objectStoreSpec(t, retention), deps);
    }

    /** An ObjectStore `store` in `namespace` with `spec`, created after `deps`. */
    private objectStoreResource(
        resourceName: string,
        store: string,
        namespace: string,
        spec: Record<string, unknown>,
        deps: pulumi.Resource[],
    ): pulumi.Resource {
        return new k8s.apiextensions.CustomResource(
            resourceName,
            {
                apiVersion: "barmancloud.cnpg.io/v1",
                kind: "ObjectStore",
                metadata: owned({ name: store, namespace, labels: PART_OF }),
                spec,
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
                    this.objectStoreResource(`${name}-${r.name}-source`, store, namespace, sourceStoreSpec(source, args.retention), deps),
                );
            }
            deps.push(this.objectStore(`${name}-${r.name}`, r.name, namespace, own, args.retention, deps));
        }
        const externalCluster = recoverySource(r.from, source, args.method, store);
        new k8s.apiextensions.CustomResource(
            `${name}-${r.name}-recovery`,
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: owned({
                    name: r.name,
                    namespace,
                    labels: { ...PART_OF, "backup.platform/recovered-from": r.from },
                }),
                spec: {
                    instances: r.instances,
                    ...recoveryImage(r),
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
