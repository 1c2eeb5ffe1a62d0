#!/usr/bin/env node
// Smoke test of the e2e toolchain: the Pulumi engine built by e2e/toolchain.sh, the Kubernetes
// provider found on PATH, and the control plane from e2e/cluster.sh.
//
//   eval "$(e2e/toolchain.sh)" && eval "$(e2e/cluster.sh start)" && node e2e/pulumi-smoke.js
//
// It runs an Automation API *inline* program, which needs no pulumi-language-nodejs binary (that
// host cannot be built here; see e2e/NOTES.md): up, then preview --expect-no-changes, then
// destroy. State and PULUMI_HOME live in a temp dir that is removed at the end. Uses the
// @pulumi/* packages installed in the repo (package.json pins).
// --random also creates a random.RandomPassword (needs pulumi-resource-random on PATH).
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");

const repo = path.resolve(__dirname, "..");
const fromRepo = (m) => require(require.resolve(m, { paths: [repo] }));
const pulumi = fromRepo("@pulumi/pulumi");
const { LocalWorkspace } = fromRepo("@pulumi/pulumi/automation");
const k8s = fromRepo("@pulumi/kubernetes");

const withRandom = process.argv.includes("--random");
if (!process.env.KUBECONFIG) {
    console.error('KUBECONFIG is not set: run eval "$(e2e/cluster.sh start)" first');
    process.exit(2);
}

const program = async () => {
    const ns = new k8s.core.v1.Namespace("smoke", { metadata: { name: "e2e-smoke" } });
    const data = { hello: "world" };
    const outputs = {};
    if (withRandom) {
        const random = fromRepo("@pulumi/random");
        const password = new random.RandomPassword("smoke", { length: 24, special: false });
        data.passwordLength = password.result.apply((r) => String(r.length));
        outputs.password = password.result;
    }
    const cm = new k8s.core.v1.ConfigMap("smoke", { metadata: { name: "smoke", namespace: ns.metadata.name }, data });
    return { ...outputs, configMap: pulumi.interpolate`${cm.metadata.namespace}/${cm.metadata.name}` };
};

async function main() {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-smoke-"));
    fs.mkdirSync(path.join(tmp, "state"));
    const log = (s) => process.stdout.write(s);
    let stack;
    let destroyed = false;
    try {
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: "smoke", projectName: "e2e-smoke", program },
            {
                pulumiHome: path.join(tmp, "home"),
                envVars: {
                    PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}?metadata=skip`,
                    PULUMI_CONFIG_PASSPHRASE: "smoke",
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                },
            },
        );
        const up = await stack.up({ onOutput: log });
        console.log("up outputs:", JSON.stringify(up.outputs.configMap));
        await stack.preview({ expectNoChanges: true, onOutput: log });
        console.log("preview --expect-no-changes: ok");
        await stack.destroy({ onOutput: log });
        destroyed = true;
        console.log("destroy: ok");
    } finally {
        // After a failure, still remove whatever the update created from the shared cluster.
        if (stack && !destroyed) await stack.destroy().catch(() => undefined);
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

main().catch((err) => {
    console.error("SMOKE FAILED:", err && err.message ? err.message : err);
    process.exit(1);
});
