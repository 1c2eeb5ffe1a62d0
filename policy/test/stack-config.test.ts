// The pack's stack-config script reads stack files too: YAML errors name the file and line and exit 2.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { retentionDays, stackFileConfig } from "../scripts/stack-config";

const aliasBomb = [
    "a: &a [x, x, x, x, x, x, x, x, x]",
    ..."bcdefgh".split("").map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(", ")}]`),
].join("\n");

/** [what, file content, expected line, fragment of the message]. */
const BAD: [string, string, number, string][] = [
    ["a tab as indentation", "config:\n\tbackup:retention: 30d\n", 2, "Tabs are not allowed"],
    ["a duplicate key", "config:\n  backup:retention: 30d\n  backup:retention: 7d\n", 3, "Map keys must be unique"],
    ["an alias bomb", `${aliasBomb}\nconfig: {}\n`, 1, "resource exhaustion"],
    ["a file that is no YAML mapping", "\u0000\u0001 binary", 1, "not a Pulumi stack file"],
    ["a config that is a list", "config:\n  - backup:retention\n", 2, "not a Pulumi stack file"],
];

describe("stack-config reads stack files", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-config-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    for (const [what, text, line, fragment] of BAD) {
        it(`reports ${what} with the file and line, and exits 2`, () => {
            assert.throws(
                () => stackFileConfig(text, "Pulumi.x.yaml"),
                (err: Error) => err.message.startsWith(`Pulumi.x.yaml:${line}:`) && err.message.includes(fragment),
            );
            const file = path.join(dir, `${what.replace(/\W+/g, "-")}.yaml`);
            fs.writeFileSync(file, text);
            const run = spawnSync(process.execPath, [path.join(__dirname, "..", "scripts", "stack-config.js"), file], { encoding: "utf8" });
            assert.strictEqual(run.status, 2, run.stderr);
            assert.ok(run.stderr.startsWith(`error: ${file}:${line}:`), run.stderr);
        });
    }

    it("still reads the project's stack files", () => {
        assert.strictEqual(
            typeof stackFileConfig(fs.readFileSync(path.join(__dirname, "..", "..", "..", "Pulumi.baremetal.yaml"), "utf8"), "f")[
                "backup:retention"
            ],
            "string",
        );
    });
});

describe("retention days", () => {
    // The pack is its own package and cannot import the program's core/schedule.ts; the two readings of a retention
    // must agree for every value config accepts (at most ten years), or the lifecycle check would pass a stack the
    // program expires sooner. The program's is loaded from its build (npm run build in the root).
    it("agree with the program's core/schedule.ts for every retention config accepts", () => {
        const compiled = path.resolve(__dirname, "..", "..", "..", "bin", "core", "schedule.js");
        if (!fs.existsSync(compiled)) assert.fail(`${compiled} is missing: run \`npm run build\` in the project root first`);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const program = require(compiled) as { retentionDays: (r: string) => number };
        let compared = 0;
        for (const [unit, max] of [
            ["d", 3650],
            ["w", 521],
            ["m", 117],
        ] as const) {
            for (let n = 1; n <= max; n++) {
                assert.strictEqual(retentionDays(`${n}${unit}`), program.retentionDays(`${n}${unit}`), `${n}${unit}`);
                compared++;
            }
        }
        assert.strictEqual(compared, 3650 + 521 + 117);
    });
});
