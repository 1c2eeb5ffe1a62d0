// README "A stack re-created after its state was lost", for Velero's kopia repository password: a new stack never
// replaces it, and the documented way to keep it (the old value into secret config, from standard input) converges.
import * as assert from "assert";
import { apiPath, type Kube } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { kube, localOverrides } from "../harness";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

describe("Velero's repository password across a lost state (real API server)", function () {
    this.timeout(10 * 60_000);
    const workspaces: Workspace[] = [];
    let k: Kube;
    const overrides = () => ({
        ...localOverrides(),
        "backup:velero": {
            ...(JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:velero"] ?? "{}") as object),
            nodeAgent: true,
        },
    });
    const workspace = () => {
        const ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        workspaces.push(ws);
        ws.init(overrides());
        return ws;
    };
    const password = async () => {
        const secret = await k.get(apiPath("", "v1", "secrets", "velero", "velero-repo-credentials"));
        assert.ok(secret, "velero/velero-repo-credentials exists");
        return Buffer.from((secret.data as Record<string, string>)["repository-password"], "base64").toString();
    };

    before(() => {
        k = kube(shared.kubeconfig);
    });

    after(() => {
        k?.close();
        if (process.env.E2E_KEEP !== "1") for (const ws of workspaces) ws.remove();
    });

    it("a new stack stops on the retained password; with it in secret config the up converges and keeps it", async () => {
        const first = workspace();
        first.up();
        const original = await password();
        assert.strictEqual(original.length, 48);

        // The state is lost: a new workspace and backend, the same stack name.
        const second = workspace();
        const refused = second.pulumi(["up", "--yes", "--skip-preview", "--stack", "baremetal"], { allowFailure: true });
        assert.notStrictEqual(refused.status, 0, "the up must stop");
        assert.match(refused.stdout + refused.stderr, /velero-repo-credentials[\s\S]*conflict|conflict[\s\S]*velero-repo-credentials/);
        assert.strictEqual(await password(), original, "never replaced");

        // The runbook: the old value into secret config through standard input, never on a command line.
        second.pulumi(["config", "set", "--secret", "backup:veleroRepositoryPassword", "--stack", "baremetal"], { input: original });
        second.up();
        assert.deepStrictEqual(second.previewSteps(), [], "converged");
        assert.strictEqual(await password(), original, "kept");
        assert.ok(!second.exportState().includes(original), "not in the state in plaintext");
    });
});
