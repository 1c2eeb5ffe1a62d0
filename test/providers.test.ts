// The program's own providers: every Kubernetes and random resource uses them (no default provider, which would
// start a second plugin and ignore the pass-through below), and index.ts registers nothing for a bad config.
import * as assert from "assert";
import entry from "../index";
import { main } from "../program";
import { record } from "../cli/recorder";
import { readStackConfig, stackFile } from "../cli/stackfile";

type Obj = Record<string, unknown>;

function config(stack: string, extra: Record<string, string> = {}): Record<string, string> {
    return { ...readStackConfig(stackFile(stack)).config, ...extra };
}

describe("providers", () => {
    for (const stack of ["baremetal", "aws"]) {
        it(`${stack}: every Kubernetes and random resource, chart components included, uses the program's provider`, async () => {
            const { resources } = await record(main, { stack, config: config(stack) });
            const using = resources.filter((r) => /^(kubernetes|random):/.test(r.type));
            assert.ok(using.length >= 20, `only ${using.length}`);
            for (const r of using) {
                const pkg = r.type.split(":")[0];
                assert.strictEqual(r.options.provider, `pulumi:providers:${pkg}::${pkg}`, `${r.type} ${r.name}`);
            }
            const providers = resources.filter((r) => r.type === "pulumi:providers:kubernetes" || r.type === "pulumi:providers:random");
            assert.deepStrictEqual(providers.map((r) => `${r.type}::${r.name}`).sort(), [
                "pulumi:providers:kubernetes::kubernetes",
                "pulumi:providers:random::random",
            ]);
        });
    }

    it("passes the kubernetes:context, kubernetes:cluster and kubernetes:kubeconfig stack settings on", async () => {
        const { resources } = await record(main, {
            stack: "baremetal",
            config: config("baremetal", {
                "kubernetes:context": "rciis-prod",
                "kubernetes:cluster": "rciis",
                "kubernetes:kubeconfig": "apiVersion: v1",
            }),
            secretKeys: ["kubernetes:kubeconfig"],
        });
        const provider = resources.find((r) => r.type === "pulumi:providers:kubernetes");
        assert.ok(provider);
        const inputs = provider.inputs as Obj;
        assert.deepStrictEqual([inputs.context, inputs.cluster, inputs.kubeconfig], ["rciis-prod", "rciis", "[secret]"]);
    });

    it("index.ts (what `pulumi up` runs) registers the same resources as main, providers first", async () => {
        const viaMain = await record(main, { stack: "baremetal", config: config("baremetal") });
        const viaEntry = await record(entry, { stack: "baremetal", config: config("baremetal") });
        const names = (rs: typeof viaMain.resources) => rs.map((r) => `${r.type}::${r.name}`);
        assert.deepStrictEqual(names(viaEntry.resources), names(viaMain.resources));
    });

    it("index.ts registers nothing, not even a provider, for a bad config", async () => {
        await assert.rejects(
            () => record(entry, { stack: "baremetal", config: config("baremetal", { "backup:retention": "30 days" }) }),
            (err: Error & { registered?: number }) => {
                assert.match(err.message, /backup:retention/);
                assert.strictEqual(err.registered, 0);
                return true;
            },
        );
    });
});
