// Scheduling fields every backup CronJob shares.

/**
 * UTC schedules (the seeds' times are UTC), never two runs at once, three finished Jobs of each
 * outcome kept for inspection; a run that could not start within `startingDeadlineSeconds` is
 * skipped rather than started late.
 */
export function cronJobPolicy(schedule: string, startingDeadlineSeconds?: number) {
    return {
        schedule,
        timeZone: "Etc/UTC",
        concurrencyPolicy: "Forbid",
        ...(startingDeadlineSeconds !== undefined ? { startingDeadlineSeconds } : {}),
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
    };
}
