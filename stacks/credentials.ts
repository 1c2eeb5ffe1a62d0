// Credentials Secrets in the namespaces where consumers read them, each in its consumer's format.
// This replaces the seeds' imperative `kubectl create secret` loop.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Consumer, type SecretCredentials } from "../core/targets";
import { owned } from "../core/ownership";
import { PART_OF } from "../core/names";

export const veleroSecretName = "velero-s3-credentials";
export const cnpgSecretName = "cnpg-s3-credentials";
export const mssqlSecretName = "mssql-s3-credentials";
/** The read-only keys recovery and drill clusters read a namespace's archives with (bare metal). */
export const cnpgReaderSecretName = "cnpg-s3-reader-credentials";

/** Secret name and key names per consumer (the `keys` record of the target). */
export function secretLayout(consumer: Consumer, namespace: string): SecretCredentials {
    switch (consumer) {
        case "velero":
            // Velero's AWS plugin reads an AWS shared-credentials file from the key `cloud`.
            return { kind: "secret", namespace, secretName: veleroSecretName, keys: { cloud: "cloud" } };
        case "cnpg":
            // The names the seeds' Cluster manifests reference.
            return {
                kind: "secret",
                namespace,
                secretName: cnpgSecretName,
                keys: { accessKeyId: "ACCESS_KEY_ID", secretAccessKey: "ACCESS_SECRET_KEY" },
            };
        case "mssql":
            return {
                kind: "secret",
                namespace,
                secretName: mssqlSecretName,
                keys: { accessKeyId: "AWS_ACCESS_KEY_ID", secretAccessKey: "AWS_SECRET_ACCESS_KEY" },
            };
    }
}

/** Secret layout of a namespace's read-only CNPG keys: cnpg's key names, a name of its own. */
export function cnpgReaderLayout(namespace: string): SecretCredentials {
    return { ...secretLayout("cnpg", namespace), secretName: cnpgReaderSecretName };
}

/**
 * SQL Server splits its S3 credential at ':' and the keys travel inside a SQL string literal and
 * sqlcmd variables: refuse such keys when the Secret is created, not when the 03:00 backup runs.
 */
export function assertSqlServerSafe(key: string, what: string): string {
    if (/[:'"\\]|\$\(/.test(key) || key.length === 0) {
        throw new Error(
            `the SQL Server ${what} contains ':', a quote, a backslash or "$(", which BACKUP TO URL cannot use; rotate the key`,
        );
    }
    return key;
}

/** Creates the consumer's Secret in `namespace` from an access key pair; both values stay Pulumi secrets. */
export function createConsumerSecret(
    id: string,
    consumer: Consumer,
    namespace: string,
    accessKeyId: pulumi.Input<string>,
    secretAccessKey: pulumi.Input<string>,
    parent: pulumi.Resource,
    dependsOn: pulumi.Resource[] = [],
    layout: SecretCredentials = secretLayout(consumer, namespace),
): k8s.core.v1.Secret {
    if (consumer === "mssql") {
        accessKeyId = pulumi.output(accessKeyId).apply((k) => assertSqlServerSafe(k, "access key"));
        secretAccessKey = pulumi.output(secretAccessKey).apply((k) => assertSqlServerSafe(k, "secret key"));
    }
    const stringData: Record<string, pulumi.Output<string>> = consumer === "velero"
        ? {
              cloud: pulumi.secret(
                  pulumi.interpolate`[default]\naws_access_key_id=${accessKeyId}\naws_secret_access_key=${secretAccessKey}\n`,
              ),
          }
        : {
              [layout.keys.accessKeyId]: pulumi.secret(pulumi.output(accessKeyId)),
              [layout.keys.secretAccessKey]: pulumi.secret(pulumi.output(secretAccessKey)),
          };
    return new k8s.core.v1.Secret(
        id,
        {
            metadata: owned({
                name: layout.secretName,
                namespace,
                labels: {
                    "app.kubernetes.io/managed-by": "pulumi",
                    ...PART_OF,
                    "backup.platform/consumer": consumer,
                    ...(layout.secretName === cnpgReaderSecretName ? { "backup.platform/access": "read-only" } : {}),
                },
            }),
            type: "Opaque",
            stringData,
        },
        { parent, dependsOn },
    );
}
