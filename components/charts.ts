// Every Helm chart the program installs, pinned in one place. A local path (config `charts.<name>.path`)
// replaces the repository: needed offline and by the real-engine tests.
import type * as k8s from "@pulumi/kubernetes";

export interface PinnedChart {
    readonly chart: string;
    readonly version: string;
    readonly repo: string;
}

export const CHARTS = {
    velero: { chart: "velero", version: "11.3.2", repo: "https://vmware-tanzu.github.io/helm-charts" },
    descheduler: { chart: "descheduler", version: "0.34.0", repo: "https://kubernetes-sigs.github.io/descheduler" },
} as const satisfies Record<string, PinnedChart>;

/** Chart arguments for the pinned chart, or for a local copy when `localPath` is set. */
export function chartSource(pinned: PinnedChart, localPath?: string): Pick<k8s.helm.v4.ChartArgs, "chart" | "version" | "repositoryOpts"> {
    return localPath !== undefined
        ? { chart: localPath }
        : { chart: pinned.chart, version: pinned.version, repositoryOpts: { repo: pinned.repo } };
}
