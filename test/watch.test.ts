import * as assert from "assert";
import { sleep, watch, type Refresh } from "../cli/watch";

/** A fake clock: `sleep` moves time instead of waiting, and stops the loop after `stopAfter` waits. */
function clock(stopAfter: number) {
    const abort = new AbortController();
    const state = { t: 1_000_000, sleeps: [] as number[] };
    return {
        state,
        abort,
        now: () => state.t,
        sleep: (ms: number) => {
            state.sleeps.push(ms);
            state.t += ms;
            if (state.sleeps.length >= stopAfter) abort.abort();
            return Promise.resolve();
        },
    };
}

describe("watch loop", () => {
    it("refreshes at a fixed rate from the start of each check, showing every refresh", async () => {
        const c = clock(3);
        const checkedAt: number[] = [];
        const shown: Refresh<number>[] = [];
        const last = await watch({
            intervalMs: 30_000,
            check: (now) => {
                checkedAt.push(now);
                c.state.t += 2_000; // the check takes 2 s
                return Promise.resolve(checkedAt.length);
            },
            show: (r) => shown.push(r),
            now: c.now,
            sleep: c.sleep,
            signal: c.abort.signal,
        });
        assert.deepStrictEqual(checkedAt, [1_000_000, 1_030_000, 1_060_000]);
        assert.deepStrictEqual(c.state.sleeps, [28_000, 28_000, 28_000]);
        assert.deepStrictEqual(
            shown.map((r) => [r.at, r.next, r.result]),
            [
                [1_000_000, 1_030_000, 1],
                [1_030_000, 1_060_000, 2],
                [1_060_000, 1_090_000, 3],
            ],
        );
        assert.strictEqual(last, shown[2]);
    });

    it("starts the next check at once when a check outlasts the interval", async () => {
        const c = clock(2);
        await watch({
            intervalMs: 5_000,
            check: () => {
                c.state.t += 7_000;
                return Promise.resolve(0);
            },
            show: () => undefined,
            now: c.now,
            sleep: c.sleep,
            signal: c.abort.signal,
        });
        assert.deepStrictEqual(c.state.sleeps, [0, 0]);
    });

    it("shows a failed check and keeps watching", async () => {
        const c = clock(3);
        const outcomes: (string | number)[] = [];
        let n = 0;
        const last = await watch({
            intervalMs: 10_000,
            check: () =>
                ++n === 2 ? Promise.reject(new Error("GET /api/v1/persistentvolumeclaims: 503 unavailable")) : Promise.resolve(n),
            show: (r) => outcomes.push(r.error ? r.error.message : (r.result ?? -1)),
            now: c.now,
            sleep: c.sleep,
            signal: c.abort.signal,
        });
        assert.deepStrictEqual(outcomes, [1, "GET /api/v1/persistentvolumeclaims: 503 unavailable", 3]);
        assert.strictEqual(last?.result, 3);
    });

    it("a failed last check is the last refresh; a thrown non-Error becomes an Error", async () => {
        const c = clock(1);
        const last = await watch({
            intervalMs: 10_000,
            // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a careless library may do
            check: () => Promise.reject("ECONNRESET"),
            show: () => undefined,
            now: c.now,
            sleep: c.sleep,
            signal: c.abort.signal,
        });
        assert.strictEqual(last?.error?.message, "ECONNRESET");
        assert.strictEqual(last?.result, undefined);
    });

    it("stops during a check, dropping its late result", async () => {
        const c = clock(Infinity);
        const shown: number[] = [];
        let n = 0;
        let release: (v: number) => void = () => undefined;
        const last = await watch({
            intervalMs: 10_000,
            check: () => {
                if (++n === 1) return Promise.resolve(1);
                c.abort.abort(); // Ctrl-C while the second check waits on the API server
                return new Promise<number>((resolve) => (release = resolve));
            },
            show: (r) => shown.push(r.result ?? -1),
            now: c.now,
            sleep: c.sleep,
            signal: c.abort.signal,
        });
        release(2);
        assert.deepStrictEqual(shown, [1]);
        assert.strictEqual(last?.result, 1);
    });

    it("does not check at all when stopped before it starts", async () => {
        const c = clock(Infinity);
        c.abort.abort();
        let checks = 0;
        const last = await watch({
            intervalMs: 10_000,
            check: () => Promise.resolve(++checks),
            show: () => undefined,
            now: c.now,
            sleep: c.sleep,
            signal: c.abort.signal,
        });
        assert.strictEqual(last, undefined);
        assert.strictEqual(checks, 0);
    });

    it("the real sleep ends as soon as the signal aborts", async () => {
        const abort = new AbortController();
        const started = Date.now();
        setTimeout(() => abort.abort(), 20);
        await sleep(60_000, abort.signal);
        assert.ok(Date.now() - started < 5_000, `slept ${Date.now() - started} ms`);
    });
});
