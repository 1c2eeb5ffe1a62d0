// The refresh loop behind `verify --watch`: check, show, wait for the next tick, again, until the
// signal aborts. Hand-written because it is ten lines of control flow, and what matters is that the
// clock and the wait are injected, so tests drive many refreshes without sleeping. A failed check
// is shown and the loop goes on: a flaky API server should not end a watch.
import { setTimeout as delay } from "timers/promises";

/** One refresh: when it started, when the next one is due, and what the check returned or threw. */
export interface Refresh<T> {
    at: number;
    next: number;
    result?: T;
    error?: Error;
}

export interface WatchOptions<T> {
    /** Milliseconds from the start of one refresh to the start of the next. */
    intervalMs: number;
    /** One check, given the time the refresh started. */
    check: (now: number) => Promise<T>;
    /** Draws a refresh (result or error). */
    show: (refresh: Refresh<T>) => void;
    now: () => number;
    /** Waits `ms`, or less when the signal aborts. */
    sleep: (ms: number, signal: AbortSignal) => Promise<void>;
    /** Aborting ends the loop, also during a check (whose result is then dropped). */
    signal: AbortSignal;
}

/** The real wait: resolves after `ms` or as soon as the signal aborts. */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> => delay(ms, undefined, { signal }).catch(() => undefined);

/** Runs until the signal aborts; resolves the last refresh shown (undefined when none finished). */
export async function watch<T>(o: WatchOptions<T>): Promise<Refresh<T> | undefined> {
    const aborted = new Promise<"aborted">((resolve) => {
        if (o.signal.aborted) resolve("aborted");
        else o.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    let last: Refresh<T> | undefined;
    while (!o.signal.aborted) {
        const at = o.now();
        const next = at + o.intervalMs;
        const outcome = await Promise.race([
            o.check(at).then(
                (result) => ({ result }),
                (err: unknown) => ({ error: err instanceof Error ? err : new Error(String(err)) }),
            ),
            aborted,
        ]);
        if (outcome === "aborted") break;
        last = { at, next, ...outcome };
        o.show(last);
        // A check slower than the interval starts the next one at once rather than drifting further.
        await o.sleep(Math.max(0, next - o.now()), o.signal);
    }
    return last;
}
