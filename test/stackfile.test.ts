// Stack files that are not valid YAML, or not stack files, must give a message naming the file and line and exit 2
// from every command that reads them, never a parser's stack trace.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readStackConfig, StackFileError } from "../cli/stackfile";

/** A "billion laughs": each level repeats the previous one nine times. */
const aliasBomb = [
    "a: &a [x, x, x, x, x, x, x, x, x]",
    ..."bcdefgh".split("").map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(", ")}]`),
].join("\n");

/** [what, file content, expected line, fragment of the message]. */
export const BAD_STACK_FILES: [string, string, number, string][] = [
    ["a tab as indentation", "config:\n\tbackup:platform: aws\n", 2, "Tabs are not allowed"],
    ["a duplicate key", "config:\n  backup:platform: aws\n  backup:platform: baremetal\n", 3, "Map keys must be unique"],
    ["an alias bomb", `${aliasBomb}\nconfig: {}\n`, 2, "resource exhaustion"],
    ["an unclosed flow sequence", "config:\n  backup:namespaces: [a, b\n", 3, "Flow sequence"],
    ["a file that is no YAML mapping", "\u0000\u0001\u0002 binary", 1, "not a Pulumi stack file"],
    ["a config that is a list", "config:\n  - backup:platform\n", 2, "not a Pulumi stack file"],
];

describe("stack files", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stackfile-"));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const write = (name: string, text: string): string => {
        const file = path.join(dir, `${name.replace(/\W+/g, "-")}.yaml`);
        fs.writeFileSync(file, text);
        return file;
    };
    const bin = (script: string) => path.join(__dirname, "..", "cli", script);

    for (const [what, text, line, fragment] of BAD_STACK_FILES) {
        it(`reports ${what} with the file and line`, () => {
            const file = write(what, text);
            assert.throws(
                () => readStackConfig(file),
                (err: Error) => {
                    assert.ok(err instanceof StackFileError, `not a StackFileError: ${err.stack ?? err.message}`);
                    assert.ok(err.message.startsWith(`${file}:${line}:`), err.message);
                    assert.ok(err.message.includes(fragment), err.message);
                    return true;
                },
            );
        });

        it(`npm run render exits 2 on ${what}, without a stack trace`, () => {
            const file = write(what, text);
            const run = spawnSync(process.execPath, [bin("render.js"), "--stack", "baremetal", "--config-file", file], {
                encoding: "utf8",
            });
            assert.strictEqual(run.status, 2, run.stderr);
            assert.ok(run.stderr.includes(`${file}:${line}:`), run.stderr);
            assert.ok(!/\n\s+at /.test(run.stderr), `stack trace printed:\n${run.stderr}`);
        });
    }

    for (const script of ["verify.js", "drill.js"]) {
        it(`${script.replace(".js", "")} exits 2 on a YAML error, naming the file and line`, () => {
            const file = write(`${script}-tab`, BAD_STACK_FILES[0][1]);
            const args = script === "drill.js" ? ["--database", "esb-postgres"] : [];
            const run = spawnSync(process.execPath, [bin(script), "--stack", "baremetal", "--config-file", file, ...args], {
                encoding: "utf8",
            });
            assert.strictEqual(run.status, 2, run.stderr);
            assert.ok(run.stderr.includes(`${file}:2:`), run.stderr);
        });
    }

    it("reads a stack file whose config is empty", () => {
        assert.deepStrictEqual(readStackConfig(write("empty-config", "config:\n")).config, {});
    });
});
