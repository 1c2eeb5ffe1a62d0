// Options for resources that hold or guard backup data: buckets, object users, key material, KMS keys.
import type * as pulumi from "@pulumi/pulumi";
import { type Config } from "../config";

/**
 * `retainOnDelete` (default on) keeps the resource when `pulumi destroy` runs or when a rename or
 * replacement would delete it; `protect` (opt-in) refuses such operations outright.
 */
export function statefulOptions(cfg: Config, opts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return { ...opts, retainOnDelete: cfg.dataSafety.retainOnDelete, protect: cfg.dataSafety.protect };
}
