// Scheduled jobs as typed records: what a component's CronJob is, for the alerts, the dashboard and outputs. Imports
// nothing of the project.

/** A CronJob whose last success kube-state-metrics reports. */
export interface ScheduledJob {
    readonly namespace: string;
    readonly cronJob: string;
    /** Five-field cron. */
    readonly schedule: string;
}

/** `<namespace>/<name>`, as outputs and messages print a CronJob. */
export const jobPath = (job: ScheduledJob): string => `${job.namespace}/${job.cronJob}`;
