// Selectors and metric names shared with the dashboard (components/dashboard/), so both watch the same series.
import { ScheduledJob } from "../../core/jobs";

/** A PromQL label selector matching each of `labels` exactly. */
export const sel = (labels: Record<string, string>) =>
    `{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",")}}`;

/** The series of one Velero schedule. */
export const veleroScheduleSelector = (schedule: string): string => sel({ schedule });

/** kube-state-metrics' series of one CronJob. */
export const cronJobSelector = (job: ScheduledJob): string => sel({ namespace: job.namespace, cronjob: job.cronJob });

/**
 * The instance pods (CNPG names them `<cluster>-<n>`) of the clusters named by `names` in the namespaces `namespaces`:
 * both regular expressions, or the dashboard variables that hold them.
 */
export const cnpgPodSelector = (namespaces: string, names: string): string => `{namespace=~"${namespaces}",pod=~"(${names})-[0-9]+"}`;

/** The namespaces of `targets`, as one regular expression (DNS labels: nothing to escape). */
export const namespacesRegex = (targets: readonly { namespace: string }[]): string =>
    [...new Set(targets.map((t) => t.namespace))].sort().join("|");

/** The instance pods of `clusters`. */
export function cnpgSelector(clusters: readonly { name: string; namespace: string }[]): string {
    const pods = clusters
        .map((c) => c.name)
        .sort()
        .join("|");
    return cnpgPodSelector(namespacesRegex(clusters), pods);
}

/** kube-state-metrics' series of the CronJobs matching `cronJobs` in the namespaces `namespaces` (regular expressions). */
export const cronJobsSelector = (namespaces: string, cronJobs: string): string => `{namespace=~"${namespaces}",cronjob=~"${cronJobs}"}`;

/** The backup metrics of a CNPG backup method: the in-tree collector's stop moving under the plugin, which publishes its own. */
export function cnpgBackupMetrics(method: "barmanObjectStore" | "plugin"): { lastBackup: string; firstRecoverabilityPoint: string } {
    return method === "plugin"
        ? {
              lastBackup: "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
              firstRecoverabilityPoint: "barman_cloud_cloudnative_pg_io_first_recoverability_point",
          }
        : {
              lastBackup: "cnpg_collector_last_available_backup_timestamp",
              firstRecoverabilityPoint: "cnpg_collector_first_recoverability_point",
          };
}
