// The render floor for benchmarks: a Pulumi program with the same SDK imports as the real one
// (per platform) that registers nothing.
import "@pulumi/kubernetes";
import "@pulumi/pulumi";
import "@pulumi/random";

export async function emptyProgram(platform: string): Promise<Record<string, unknown>> {
    if (platform === "aws") await import("@pulumi/aws");
    return {};
}
