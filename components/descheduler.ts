// The Descheduler (chart 0.34.0) in Deployment mode, never evicting database pods.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Resources } from "../core/workloads";
import { CHARTS, chartSource } from "./charts";
import { chartTransforms } from "../core/ownership";

/** The Descheduler's settings, as this component needs them. */
export interface DeschedulerSettings {
    /** Replicas. */
    readonly replicas: number;
    /** Leader election; required when replicas > 1. */
    readonly leaderElection: boolean;
    /** How often the Deployment descheduler runs, like 5m. */
    readonly interval: string;
    readonly resources: Resources;
    /** DefaultEvictor podProtections (descheduler 0.34+). Default: the built-in protections. */
    readonly podProtections?: { readonly extraEnabled: readonly string[]; readonly defaultDisabled: readonly string[] };
    /** Deprecated DefaultEvictor booleans (the seeds' form); never together with podProtections. */
    readonly evictorFlags?: Readonly<Record<string, boolean | undefined>>;
    /** Pods never evicted: a label key, and values (none = any value). */
    readonly protectedPods: readonly { readonly key: string; readonly values?: readonly string[] }[];
}

export interface DeschedulerArgs {
    /** Validated descheduler settings (replicas, leader election, evictor, protected pods). */
    readonly settings: DeschedulerSettings;
    /** Local chart path instead of the pinned repository. Default none. */
    readonly chartPath?: string;
    /** Skip waiting for readiness (local API servers). Default false. */
    readonly skipAwait?: boolean;
}

/** The chart values for `settings` (pure, for tests). */
export function deschedulerValues(settings: DeschedulerSettings): Record<string, unknown> {
    // Only pods matching this selector are evicted: database pods (CNPG instances, SQL Server) never match.
    const labelSelector = {
        matchExpressions: settings.protectedPods.map((p) =>
            p.values === undefined ? { key: p.key, operator: "DoesNotExist" } : { key: p.key, operator: "NotIn", values: p.values },
        ),
    };
    const evictorArgs: Record<string, unknown> = { nodeFit: true, labelSelector };
    if (settings.evictorFlags !== undefined) Object.assign(evictorArgs, settings.evictorFlags);
    else if (settings.podProtections !== undefined) evictorArgs.podProtections = settings.podProtections;
    return {
        kind: "Deployment",
        replicas: settings.replicas,
        leaderElection: { enabled: settings.leaderElection },
        deschedulingInterval: settings.interval,
        resources: settings.resources,
        deschedulerPolicy: {
            profiles: [
                {
                    name: "default",
                    pluginConfig: [
                        { name: "DefaultEvictor", args: evictorArgs },
                        {
                            name: "LowNodeUtilization",
                            args: {
                                useDeviationThresholds: true,
                                thresholds: { cpu: 10, memory: 10, pods: 10 },
                                targetThresholds: { cpu: 20, memory: 20, pods: 20 },
                            },
                        },
                        { name: "RemovePodsViolatingTopologySpreadConstraint", args: { constraints: ["DoNotSchedule"] } },
                    ],
                    plugins: { balance: { enabled: ["LowNodeUtilization", "RemovePodsViolatingTopologySpreadConstraint"] } },
                },
            ],
        },
    };
}

/** The Descheduler from the pinned chart (or a local copy) in kube-system. */
export class Descheduler extends pulumi.ComponentResource {
    constructor(name: string, args: DeschedulerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:Descheduler", name, {}, opts);
        new k8s.helm.v4.Chart(
            name,
            {
                ...chartSource(CHARTS.descheduler, args.chartPath),
                name: "descheduler",
                namespace: "kube-system",
                values: deschedulerValues(args.settings),
                skipAwait: args.skipAwait ?? false,
            },
            { parent: this, transforms: chartTransforms() },
        );
        this.registerOutputs({});
    }
}
