// The pure part of CloudNativePG backups: the backup stanzas and specs this program writes into Clusters and
// ObjectStores, shared by declared recoveries and restore drills (components/drills.ts).
import { type Resources } from "../../core/workloads";
import { s3Uri, type BackupTarget } from "../../core/targets";
import { BARMAN_PLUGIN, objectStoreName } from "../../core/names";

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

/** A recovery's PostgreSQL image: pinned, from an image catalog, or (neither) CNPG's default. */
export function recoveryImage(r: Recovery): Record<string, unknown> {
    return r.imageName
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
}
