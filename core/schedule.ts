// Schedule and retention arithmetic the program, verify and the alerts share: derived from croner (maintained cron
// library), never re-typed. Imports nothing of the project.
import { Cron } from "croner";

/** A fixed start for enumerating runs, so derived numbers never depend on the day they are computed. */
export const CRON_EPOCH = new Date(Date.UTC(2024, 0, 1));
export const DAY_MS = 86_400_000;
/** Four years and a day: a whole leap cycle, so a 29 February schedule shows its real gap. */
export const CRON_WINDOW_MS = (4 * 365 + 2) * DAY_MS;

/** Days a retention string covers, rounding months up to 31 days so derived expiries never fall short. */
export function retentionDays(value: string): number {
    const n = Number(value.slice(0, -1));
    const unit = value.slice(-1);
    return unit === "w" ? n * 7 : unit === "m" ? n * 31 : n;
}

/** Hours in a Velero TTL like `720h`, as whole days rounded up. */
export function ttlDays(value: string): number {
    return Math.ceil(Number(value.slice(0, -1)) / 24);
}

/**
 * The longest gap between two runs of a (valid) cron schedule, five or six fields, in whole days rounded up,
 * at least 1. From croner's runs over a leap cycle: the first run of each day that has one (days without runs
 * are skipped by asking for the next run after the end of the day). Runs within a day are closer than a day,
 * so comparing first runs of days bounds every gap from above, exactly for schedules that run at most daily.
 */
export const intervals = new Map<string, number>();

export function cronIntervalDays(expr: string): number {
    const known = intervals.get(expr);
    if (known !== undefined) return known;
    const days = runsEveryDay(expr) ? 1 : enumeratedIntervalDays(expr);
    intervals.set(expr, days);
    return days;
}

/**
 * Day of month, month and day of week all "*": the schedule runs every day, so its interval is one day. A shortcut
 * for the common case that skips enumerating 1,461 days of croner runs (~70 ms per expression at every deploy);
 * test/config.test.ts checks it against the enumeration.
 */
export function runsEveryDay(expr: string): boolean {
    return expr
        .trim()
        .split(/\s+/)
        .slice(-3)
        .every((field) => field === "*");
}

/** The enumeration itself (see cronIntervalDays). */
export function enumeratedIntervalDays(expr: string): number {
    const cron = new Cron(expr, { timezone: "UTC" });
    let longest = 0;
    let run = cron.nextRun(new Date(CRON_EPOCH.getTime() - 1));
    while (run !== null && run.getTime() - CRON_EPOCH.getTime() <= CRON_WINDOW_MS) {
        const endOfDay = new Date(Math.floor(run.getTime() / DAY_MS) * DAY_MS + DAY_MS - 1);
        const next = cron.nextRun(endOfDay);
        if (next !== null) longest = Math.max(longest, next.getTime() - run.getTime());
        run = next;
    }
    return Math.max(1, Math.ceil(longest / DAY_MS));
}

/** Seconds a backup on a schedule may age before alerts, the dashboard and verify call it stale: one interval plus the grace (backups take time). */
export function maxAgeSeconds(cron: string, graceHours: number): number {
    return cronIntervalDays(cron) * 24 * 3600 + graceHours * 3600;
}
