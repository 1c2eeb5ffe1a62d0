// The README runbook "A killed pulumi up", step by step, on a real file:// backend: a kill while
// fileblob rewrote a metadata sidecar leaves it empty, and every command then fails with
// "failed to load checkpoint: EOF" although the checkpoint is intact. The runbook's `find` removes it.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { localOverrides } from "../harness";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

describe("a file:// backend after a killed pulumi up (README runbook)", function () {
    this.timeout(5 * 60_000);
    let ws: Workspace;

    before(() => {
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        // Pulumi's default for file:// (sidecars on), as a user's existing backend has it.
        ws.env.PULUMI_BACKEND_URL = `file://${path.join(ws.dir, "state")}`;
        ws.init(localOverrides());
    });

    after(() => {
        if (process.env.E2E_KEEP !== "1") ws?.remove();
    });

    it("an empty .attrs sidecar fails every command; the runbook's find removes it and the stack loads again", () => {
        const stateDir = path.join(ws.dir, "state");
        const sidecar = path.join(stateDir, ".pulumi", "stacks", "backup-platform", "baremetal.json.attrs");
        assert.ok(fs.existsSync(sidecar), "the default file:// backend writes a sidecar next to the checkpoint");
        const checkpoint = fs.readFileSync(path.join(stateDir, ".pulumi", "stacks", "backup-platform", "baremetal.json"), "utf8");
        fs.truncateSync(sidecar, 0); // what a SIGKILL between fileblob's create and write leaves

        const broken = ws.pulumi(["stack", "export", "--stack", "baremetal"], { allowFailure: true });
        assert.notStrictEqual(broken.status, 0);
        assert.match(broken.stderr, /failed to load checkpoint: EOF/);

        // The runbook's command, verbatim.
        const removed = execFileSync("find", [path.join(stateDir, ".pulumi"), "-name", "*.attrs", "-size", "0", "-print", "-delete"], {
            encoding: "utf8",
        });
        assert.deepStrictEqual(removed.trim().split("\n"), [sidecar]);

        const exported = JSON.parse(ws.pulumi(["stack", "export", "--stack", "baremetal"]).stdout) as { version: number };
        assert.strictEqual(exported.version, 3);
        assert.strictEqual(
            fs.readFileSync(path.join(stateDir, ".pulumi", "stacks", "backup-platform", "baremetal.json"), "utf8"),
            checkpoint,
            "the checkpoint was never touched",
        );
    });
});
