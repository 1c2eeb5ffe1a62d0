// The engine's own floor per resource, for benchmarks: the same SDK imports as the real program, and `n` minimal
// ConfigMaps (one data key each) in the namespace `default`, through the default Kubernetes provider. No charts, no
// components, no transforms, nothing computed: what a no-op `up` of it costs above the empty program's is the engine's
// and the SDK's per-resource cost (RegisterResource, Check, Diff, the automatic log, the checkpoint) at about the
// smallest properties a Kubernetes object has. bench-engine.ts runs it at the program's own resource count.
import * as k8s from "@pulumi/kubernetes";
import "@pulumi/pulumi";
import "@pulumi/random";

/** `n` ConfigMaps named `<prefix>-<i>` (a prefix per run, so runs sharing a cluster never adopt each other's). */
export function syntheticProgram(n: number, prefix: string): Record<string, unknown> {
    for (let i = 0; i < n; i++)
        new k8s.core.v1.ConfigMap(`${prefix}-${i}`, {
            metadata: { name: `${prefix}-${i}`, namespace: "default" },
            data: { index: String(i) },
        });
    return {};
}
