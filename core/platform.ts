// What every platform (stacks/aws, stacks/baremetal) returns to the program: the same shape, so nothing downstream
// asks which platform it runs on. Imports nothing of the project but the targets' records.
import { type BackupTargets, type OffsiteDestination, type ReplicationSource } from "./targets";

/** An off-site copy the program must run as a job: what it reads and where it writes (bare metal). */
export interface OffsiteCopyPlan {
    readonly source: ReplicationSource;
    readonly destination: OffsiteDestination;
}

export interface Platform {
    /** Where each consumer writes and how it authenticates. */
    readonly targets: BackupTargets;
    /** The platform's own stack outputs (buckets, users or roles, its off-site copy when it makes it itself). */
    readonly outputs: Record<string, unknown>;
    /** An off-site copy job to run (bare metal); absent when there is none or the platform copies itself (S3 replication). */
    readonly offsite?: OffsiteCopyPlan;
}
