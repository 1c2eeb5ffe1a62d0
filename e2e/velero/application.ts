// An application namespace for Velero to back up and restore: ConfigMaps, Secrets and a custom resource, created
// as an application team would, and what a restore must bring back of them.
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { waitFor } from "./tools";

type Obj = Record<string, unknown>;

/** What a restore must bring back: data, binary data, type, and labels (without the ones Velero adds). */
export const restoredContent = (o: KubeObject | undefined) => ({
    data: o?.data,
    binaryData: o?.binaryData,
    type: o?.type,
    labels: Object.fromEntries(
        Object.entries(((o?.metadata as Obj | undefined)?.labels as Obj | undefined) ?? {}).filter(
            ([key]) => !key.startsWith("velero.io/"),
        ),
    ),
});

/** An application namespace's objects: ConfigMaps, Secrets (one with binary data) and a custom resource (a CNPG Cluster). */
export function applicationObjects(namespace: string): [string, KubeObject][] {
    const random = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) % 256)).toString("base64");
    return [
        [
            apiPath("", "v1", "configmaps", namespace),
            {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: "shop-settings", labels: { app: "shop" } },
                data: { "settings.yaml": "currency: KES\nretries: 3\n", motd: `written ${new Date().toISOString()}` },
            },
        ],
        [
            apiPath("", "v1", "configmaps", namespace),
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-binary" }, binaryData: { "blob.bin": random } },
        ],
        [
            apiPath("", "v1", "secrets", namespace),
            {
                apiVersion: "v1",
                kind: "Secret",
                type: "Opaque",
                metadata: { name: "shop-db-credentials", labels: { app: "shop" } },
                data: { username: Buffer.from("shop").toString("base64"), password: random },
            },
        ],
        [
            apiPath("", "v1", "secrets", namespace),
            {
                apiVersion: "v1",
                kind: "Secret",
                type: "kubernetes.io/basic-auth",
                metadata: { name: "shop-basic-auth" },
                data: { username: Buffer.from("admin").toString("base64"), password: Buffer.from("s3cr3t-\u00e9").toString("base64") },
            },
        ],
        [
            apiPath("postgresql.cnpg.io", "v1", "clusters", namespace),
            {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: { name: "shop-postgres", labels: { "app.kubernetes.io/part-of": "shop" } },
                spec: {
                    description: "PostgreSQL for the shop",
                    instances: 1,
                    storage: { size: "1Gi" },
                    bootstrap: { initdb: { database: "shop", owner: "shop" } },
                },
            },
        ],
    ];
}

/** Creates the namespace and its objects under field manager `app-team`; returns each object as the API server stored it. */
export async function createApplication(k: Kube, namespace: string): Promise<Map<string, KubeObject>> {
    await k.apply(
        apiPath("", "v1", "namespaces", undefined, namespace),
        { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
        "app-team",
    );
    const live = new Map<string, KubeObject>();
    for (const [collection, obj] of applicationObjects(namespace)) {
        const p = `${collection}/${(obj.metadata as Obj).name as string}`;
        await k.apply(p, obj, "app-team");
        const o = await k.get(p);
        if (!o) throw new Error(`${p} was not created`);
        live.set(p, o);
    }
    return live;
}

/** Deletes a namespace and waits until it is gone. */
export async function deleteNamespace(k: Kube, namespace: string): Promise<void> {
    const p = apiPath("", "v1", "namespaces", undefined, namespace);
    await k.delete(p);
    await waitFor(`namespace ${namespace} gone`, 180, async () => ((await k.get(p)) ? undefined : true));
}
