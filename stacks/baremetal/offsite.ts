// Bare metal's off-site copy plan: the destination (an existing bucket whose keys an operator put in a Secret, or a
// bucket the program creates on AWS); the program runs the copy job (components/offsite.ts) in its namespace.
import { type BaremetalConfig } from "../../config";
import { type OffsiteCopyPlan } from "../../core/platform";
import { type OffsiteDestination, type ReplicationSource } from "../../core/targets";
import { type Providers, componentOptions } from "../../providers";

/** An existing off-site bucket, as configured: its keys are in a Secret the operator created in the copy's namespace. */
function existingDestination(cfg: BaremetalConfig): OffsiteDestination {
    const d = cfg.offsite.destination;
    if (d === undefined) throw new Error("offsite.destination is not set (config validation should have caught this)");
    return {
        endpoint: d.endpoint,
        region: d.region,
        provider: d.provider,
        bucket: d.bucket,
        prefix: cfg.offsite.prefix,
        credentials: {
            kind: "secret",
            secretName: d.credentialsSecret.name,
            keys: { accessKeyId: d.credentialsSecret.accessKeyIdKey, secretAccessKey: d.credentialsSecret.secretAccessKeyKey },
        },
        dependsOn: [],
    };
}

/** The off-site copy of `source`: where it goes. */
export async function offsitePlan(cfg: BaremetalConfig, source: ReplicationSource, p: Providers): Promise<OffsiteCopyPlan> {
    let destination: OffsiteDestination;
    if (cfg.offsite.aws !== undefined) {
        // Loaded only when used: @pulumi/aws is large.
        const { AwsOffsiteBucket } = await import("./offsite-aws");
        destination = new AwsOffsiteBucket("offsite", { config: cfg }, componentOptions(p)).destination;
    } else {
        destination = existingDestination(cfg);
    }
    return { source, destination };
}
