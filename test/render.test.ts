import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const script = path.join(__dirname, "..", "cli", "render.js");
const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });

describe("npm run render", () => {
    for (const stack of ["aws", "baremetal"]) {
        it(`prints the ${stack} stack as stable JSON with secrets masked`, () => {
            const res = run("--stack", stack);
            assert.strictEqual(res.status, 0, res.stderr);
            const doc = JSON.parse(res.stdout) as {
                stack: string;
                resources: { type: string; name: string; parent?: string; inputs: object; options: object }[];
            };
            assert.strictEqual(doc.stack, stack);
            assert.ok(doc.resources.length > 20);
            for (const r of doc.resources)
                assert.deepStrictEqual(
                    Object.keys(r).filter((k) => k !== "parent"),
                    ["type", "name", "inputs", "options"],
                );
            const keys = [...doc.resources].map((r) => `${r.type}::${r.name}`);
            assert.deepStrictEqual(keys, [...keys].sort(), "sorted by type then name, so diffs are stable");
            assert.ok(!/aws_secret_access_key=|mock-secret-access-key/.test(res.stdout), "no secret value in the output");
            assert.ok(res.stdout.includes('"stringData": "[secret]"'));
        });
    }

    it("fails on a bad config file with exit 2 and a message naming the key", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
        const file = path.join(dir, "Pulumi.bad.yaml");
        fs.writeFileSync(file, "config:\n  backup:platform: openstack\n");
        const res = run("--stack", "bad", "--config-file", file);
        assert.strictEqual(res.status, 2);
        assert.strictEqual(res.stdout, "");
        assert.match(res.stderr, /backup:platform: must be one of aws, baremetal/);
    });

    it("rejects unknown arguments with a usage line", () => {
        const res = run("--stak", "aws");
        assert.strictEqual(res.status, 64);
        assert.match(res.stderr, /usage: npm run render -- --stack <name>/);
    });
});
