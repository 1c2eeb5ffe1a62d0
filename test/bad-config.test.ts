// Every bad configuration of the corpus goes through the real program under mocks, from its entry point (index.ts,
// which registers the providers as soon as the config is valid): each must fail with a config error (no stack trace
// under `pulumi up`) that names the key and says what is wrong, and register nothing at all, not even a provider.
import * as assert from "assert";
import entry from "../index";
import { record } from "../cli/recorder";
import { BAD_CONFIGS, type BadConfig } from "./bad-configs";
import { stackConfig } from "./harness";

/** The stack file's config with the row's edit applied, as the engine would pass it. */
function configOf(row: BadConfig): Record<string, string> {
    const raw = stackConfig(row.stack);
    row.edit?.(raw);
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`backup:${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
    return { ...config, ...row.extra };
}

describe("the bad-config corpus", () => {
    it("has unique names", () => {
        const names = BAD_CONFIGS.map((c) => c.what);
        assert.deepStrictEqual(
            names.filter((n, i) => names.indexOf(n) !== i),
            [],
        );
    });

    for (const row of BAD_CONFIGS) {
        it(`refuses ${row.what} (${row.stack}) before registering anything`, async () => {
            await assert.rejects(
                () => record(entry, { stack: row.stack, config: configOf(row) }),
                (err: Error & { registered?: number }) => {
                    assert.match(err.message, /^invalid configuration:\n {2}- /, `not a config error:\n${err.stack ?? err.message}`);
                    const line = err.message.split("\n").find((l) => l.startsWith(`  - ${row.key}`));
                    assert.ok(line !== undefined, `no problem names ${row.key}:\n${err.message}`);
                    for (const s of row.says) assert.ok(err.message.includes(s), `message lacks ${JSON.stringify(s)}:\n${err.message}`);
                    assert.strictEqual(err.registered, 0, `${err.registered} resources registered before the config error`);
                    return true;
                },
            );
        });
    }
});
