// Wiring: config -> platform (stacks/) -> backup targets -> components -> outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig, type Config } from "./config";
import { type BackupTarget } from "./stacks/targets";

/** What a target looks like in the stack outputs: where backups go and how the writer authenticates. */
function describeTarget(t: BackupTarget) {
    return {
        bucket: t.bucket,
        prefix: t.prefix,
        endpoint: t.endpoint ?? `https://s3.${t.region}.amazonaws.com`,
        region: t.region,
        ...(t.credentials.kind === "secret"
            ? { credentialsSecret: `${t.credentials.namespace}/${t.credentials.secretName}` }
            : {
                  roleArn: t.credentials.roleArn,
                  serviceAccount: `${t.credentials.serviceAccount.namespace}/${t.credentials.serviceAccount.name}`,
              }),
    };
}

/** Builds the whole stack from validated config; returns the stack outputs. */
export async function deploy(cfg: Config): Promise<Record<string, unknown>> {
    // Velero's namespace belongs to this program (as Flux's createNamespace did in the seeds); the
    // application and storage namespaces already exist and belong to others.
    const veleroNs = new k8s.core.v1.Namespace("velero", { metadata: { name: cfg.velero.namespace } });
    const namespaces = { [cfg.velero.namespace]: veleroNs };

    if (cfg.platform === "aws") {
        // Loaded only for this platform: @pulumi/aws is large and the bare-metal stack never needs it.
        const { AwsStorage } = await import("./stacks/aws");
        const storage = new AwsStorage("backup", { config: cfg });
        const t = storage.targets;
        return {
            platform: cfg.platform,
            buckets: storage.buckets,
            kmsKeyArn: storage.kmsKeyArn,
            velero: describeTarget(t.velero),
            postgres: mapValues(t.postgres, describeTarget),
            mssql: mapValues(t.mssql, describeTarget),
        };
    }
    const { BaremetalStorage } = await import("./stacks/baremetal");
    const storage = new BaremetalStorage("backup", { config: cfg, namespaces });
    const t = storage.targets;
    return {
        platform: cfg.platform,
        buckets: storage.buckets,
        objectUsers: storage.objectUsers,
        velero: describeTarget(t.velero),
        postgres: mapValues(t.postgres, describeTarget),
        mssql: mapValues(t.mssql, describeTarget),
    };
}

function mapValues<T, U>(record: Readonly<Record<string, T>>, f: (v: T) => U): Record<string, U> {
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, f(v)]));
}

/** The Pulumi program: config errors surface as one clear message, without a stack trace. */
export async function main(): Promise<Record<string, unknown>> {
    let cfg: Config;
    try {
        cfg = loadConfig();
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
    return deploy(cfg);
}
