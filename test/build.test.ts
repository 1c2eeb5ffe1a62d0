// `npm run build` removes compiled files whose source is gone, so a moved module never shadows its new place.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..");

describe("build/prune-stale.mjs", () => {
    it("removes bin/ files without a source and keeps the rest", () => {
        const stale = path.join(ROOT, "bin", "components", "zz-moved-away.js");
        fs.writeFileSync(stale, "module.exports = 'old';\n");
        fs.writeFileSync(`${stale}.map`, "{}\n");
        const kept = path.join(ROOT, "bin", "components", "velero.js");
        assert.ok(fs.existsSync(kept), "the build is there");
        const run = spawnSync(process.execPath, [path.join(ROOT, "build", "prune-stale.mjs")], { encoding: "utf8" });
        assert.strictEqual(run.status, 0, run.stderr);
        assert.match(run.stdout, /removed 2 compiled file\(s\)/);
        assert.ok(!fs.existsSync(stale) && !fs.existsSync(`${stale}.map`));
        assert.ok(fs.existsSync(kept) && fs.existsSync(path.join(ROOT, "bin", "program.js")));
    });
});
