// Bare metal's RGW object users: the buckets' owner, whose keys only Rook holds, and the users whose keys the
// program generates and delivers to consumers (Velero, SQL Server, CNPG writers and readers, the replicator).
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type BaremetalConfig } from "../../config";
import { BUCKET_OWNER, REPLICATOR_USER, cnpgReaderUser, cnpgWriterUser, consumerUser, type CnpgNamespaceAccess } from "./access";
import { owned } from "../../core/ownership";
import { PART_OF } from "../../core/names";

/** An object user and the keys the program generated for it. */
export interface ObjectUserKeys {
    accessKeyId: pulumi.Output<string>;
    secretAccessKey: pulumi.Output<string>;
    user: pulumi.Resource;
}

/** The object users with program-owned keys, by role. */
export interface KeyedUsers {
    /** Every user below, by RGW user id. */
    readonly byUid: ReadonlyMap<string, ObjectUserKeys>;
    readonly velero: ObjectUserKeys;
    readonly mssql?: ObjectUserKeys;
    /** CNPG writer per database namespace. */
    readonly writers: ReadonlyMap<string, ObjectUserKeys>;
    /** Read-only CNPG reader per namespace with restore drills or recoveries. */
    readonly readers: ReadonlyMap<string, ObjectUserKeys>;
    readonly replicator?: ObjectUserKeys;
}

/** The user that owns every bucket; it gets no program keys. */
export function bucketOwner(id: string, bm: BaremetalConfig["baremetal"], keep: pulumi.CustomResourceOptions): pulumi.Resource {
    // The buckets' owner: no program keys. Rook generates its keys into the object-store namespace,
    // where only Rook (and the claims' own Secrets) read them; no consumer ever holds them.
    return new k8s.apiextensions.CustomResource(
        id,
        {
            apiVersion: "ceph.rook.io/v1",
            kind: "CephObjectStoreUser",
            metadata: owned({ name: BUCKET_OWNER, namespace: bm.objectStoreNamespace }),
            spec: { store: bm.objectStore, displayName: "Backup bucket owner (no consumer holds its keys)" },
        },
        keep,
    );
}

/** Every object user with program-owned keys the stack needs, in registration order. */
export function keyedUsers(
    name: string,
    cfg: BaremetalConfig,
    namespaces: readonly CnpgNamespaceAccess[],
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): KeyedUsers {
    // Object users with program-owned keys (Rook 1.18+ spec.keys): no waiting for Rook to publish
    // a Secret, and the keys can be delivered anywhere in the same `up`.
    const byUid = new Map<string, ObjectUserKeys>();
    const add = (id: string, uid: string, displayName: string): ObjectUserKeys => {
        const keys = objectUser(id, uid, displayName, cfg, child, keep);
        byUid.set(uid, keys);
        return keys;
    };
    const velero = add(`${name}-velero`, consumerUser("velero"), "Backup writer: velero");
    const mssql = cfg.mssql.length > 0 ? add(`${name}-mssql`, consumerUser("mssql"), "Backup writer: mssql") : undefined;
    const writers = new Map(
        namespaces.map((ns) => [
            ns.namespace,
            add(`${name}-user-cnpg-${ns.namespace}`, cnpgWriterUser(ns.namespace), `Backup writer: cnpg in ${ns.namespace}`),
        ]),
    );
    const readers = new Map(
        namespaces
            .filter((ns) => ns.reads.length > 0)
            .map((ns) => [
                ns.namespace,
                add(
                    `${name}-user-reader-${ns.namespace}`,
                    cnpgReaderUser(ns.namespace),
                    `Backup reader (read-only): cnpg in ${ns.namespace}`,
                ),
            ]),
    );
    // The off-site copy reads every bucket with a user of its own, which the bucket policies
    // (bucketClaim) grant read access and nothing else.
    const replicator = cfg.offsite.enabled ? add(`${name}-replicator`, REPLICATOR_USER, "Off-site replicator (read-only)") : undefined;
    return { byUid, velero, mssql, writers, readers, replicator };
}

/** A CephObjectStoreUser without capabilities, keyed from a program-owned Secret; user, keys and Secret are retained. */
export function objectUser(
    id: string,
    uid: string,
    displayName: string,
    cfg: BaremetalConfig,
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): ObjectUserKeys {
    const bm = cfg.baremetal;
    // Letters and digits only: SQL Server splits its credential at ':' and the keys end up in SQL literals.
    // RandomPassword, not RandomString: a RandomString's ID is its value, and IDs are never secret in the state.
    const accessKey = new random.RandomPassword(`${id}-access-key`, { length: 20, lower: false, special: false }, child);
    const secretKey = new random.RandomPassword(`${id}-secret-key`, { length: 40, special: false }, child);
    const keySecret = new k8s.core.v1.Secret(
        `${id}-keys`,
        {
            metadata: owned({
                name: `${uid}-s3-keys`,
                namespace: bm.objectStoreNamespace,
                labels: PART_OF,
            }),
            type: "Opaque",
            stringData: { "access-key": accessKey.result, "secret-key": secretKey.result },
        },
        keep,
    );
    const user = new k8s.apiextensions.CustomResource(
        `${id}-user`,
        {
            apiVersion: "ceph.rook.io/v1",
            kind: "CephObjectStoreUser",
            metadata: owned({ name: uid, namespace: bm.objectStoreNamespace }),
            spec: {
                store: bm.objectStore,
                displayName,
                // No capabilities: a backup writer needs no admin API (the seeds granted user "*" and bucket "*").
                keys: [
                    {
                        accessKeyRef: { name: keySecret.metadata.name, key: "access-key" },
                        secretKeyRef: { name: keySecret.metadata.name, key: "secret-key" },
                    },
                ],
            },
        },
        { ...keep, dependsOn: [keySecret] },
    );
    return { accessKeyId: accessKey.result, secretAccessKey: secretKey.result, user };
}
