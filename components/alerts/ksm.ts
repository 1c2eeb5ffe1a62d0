// What kube-state-metrics must be configured with for the storage-location and coverage rules, and the names it gives
// what that configuration exports.
import { CNPG_CLUSTER_LABEL, OPT_OUT } from "../../core/coverage";

/** Label and annotation names kube-state-metrics gives a PVC's allow-listed label and annotation. */
const ksmName = (prefix: "label" | "annotation", key: string) => `${prefix}_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`;
export const KSM_CNPG_CLUSTER = ksmName("label", CNPG_CLUSTER_LABEL);
export const KSM_OPT_OUT = ksmName("annotation", OPT_OUT);

/**
 * kube-state-metrics custom-resource configuration that turns each BackupStorageLocation's phase into
 * `velero_backup_storage_location_phase{phase=...}`; load it into kube-state-metrics (README).
 */
export function ksmVeleroConfig(): string {
    return JSON.stringify({
        kind: "CustomResourceStateMetrics",
        spec: {
            resources: [
                {
                    groupVersionKind: { group: "velero.io", version: "v1", kind: "BackupStorageLocation" },
                    metricNamePrefix: "velero",
                    labelsFromPath: { name: ["metadata", "name"], namespace: ["metadata", "namespace"] },
                    metrics: [
                        {
                            name: "backup_storage_location_phase",
                            help: "Phase of a Velero BackupStorageLocation",
                            each: {
                                type: "StateSet",
                                stateSet: { labelName: "phase", path: ["status", "phase"], list: ["Available", "Unavailable"] },
                            },
                        },
                    ],
                },
            ],
        },
    });
}

/**
 * kube-state-metrics exports a PVC's labels and annotations only when allow-listed: the coverage rule reads the CNPG
 * cluster label and the opt-out annotation. Values of --metric-labels-allowlist / --metric-annotations-allowlist (the
 * kube-state-metrics chart's metricLabelsAllowlist / metricAnnotationsAllowList; README).
 */
export const KSM_ALLOWLISTS = {
    labels: `persistentvolumeclaims=[${CNPG_CLUSTER_LABEL}]`,
    annotations: `persistentvolumeclaims=[${OPT_OUT}]`,
} as const;
