// Shapes of Kubernetes workload settings every component accepts. Imports nothing of the project.

/** Container resource requests and limits, as Kubernetes quantities. */
export interface Resources {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu: string; readonly memory: string };
}
