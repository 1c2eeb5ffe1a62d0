// Who owns the fields of what the stack applies: one stable server-side-apply field manager per stack, except on
// Velero's repository password (a re-created stack must conflict with it, never replace it).
import * as assert from "assert";
import { FIELD_MANAGER_ANNOTATION, ownChartObjects, stackFieldManager } from "../core/ownership";
import { owned, render, type Raw, type Rendered } from "./harness";

type Obj = Record<string, unknown>;

/** Every optional part on: drills, the off-site copy, a recovery cluster, a SQL Server restore Job. */
const everything = (raw: Raw) => {
    raw.drills = { enabled: true, schedule: "0 5 * * 0" };
    raw.velero = { ...(raw.velero as Raw), nodeAgent: true };
    raw.cnpg = {
        recoveries: [{ from: "esb-postgres", name: "esb-postgres-recovered", imageCatalog: { name: "postgresql-17", major: 17 } }],
    };
    Object.assign((raw.mssql as Raw[])[0], { restore: { file: "RCIIS_20260217T030000Z.bak", replace: true } });
};

const annotations = (r: Rendered["resources"][number]) => ((r.inputs.metadata as Obj | undefined)?.annotations ?? {}) as Obj;
const kubernetes = (r: Rendered) => r.resources.filter((x) => x.type.startsWith("kubernetes:") && !x.type.startsWith("kubernetes:helm"));
/** Patches of the application teams' Clusters have their own manager (only the backup fields are ours). */
const isPatch = (type: string) => type.endsWith("Patch");
/** Velero's kopia repository password: never replaced by another stack's, so it keeps the provider's own manager. */
const isRepoPassword = (x: { type: string; name: string }) =>
    x.type === "kubernetes:core/v1:Secret" && x.name === "velero-repo-credentials";

describe("field ownership (server-side apply)", () => {
    for (const [stack, edit] of [
        ["baremetal", (raw: Raw) => (everything(raw), (raw.offsite = { enabled: true, aws: { region: "eu-west-1", bucket: "rciis-dr" } }))],
        ["aws", everything],
    ] as const) {
        it(`${stack}: every object the stack owns names the stack's field manager; Velero's repository password excepted`, async () => {
            const r = await render(stack, edit);
            const objects = kubernetes(r).filter((x) => !isPatch(x.type));
            const [repo, rest] = [objects.filter(isRepoPassword), objects.filter((x) => !isRepoPassword(x))];
            assert.ok(rest.length >= 20, `only ${rest.length} owned objects rendered`);
            for (const x of rest) {
                assert.strictEqual(annotations(x)[FIELD_MANAGER_ANNOTATION], owned(stack)[FIELD_MANAGER_ANNOTATION], `${x.type} ${x.name}`);
            }
            // Key material included: a re-created stack of the same name replaces regenerated keys instead of stopping.
            assert.ok(rest.filter((x) => x.type === "kubernetes:core/v1:Secret").length >= (stack === "baremetal" ? 6 : 1));
            assert.strictEqual(repo.length, 1, "nodeAgent renders the repository password Secret");
            assert.strictEqual(annotations(repo[0])[FIELD_MANAGER_ANNOTATION], undefined);
            for (const x of kubernetes(r).filter((y) => isPatch(y.type))) {
                assert.strictEqual(annotations(x)[FIELD_MANAGER_ANNOTATION], "backup-platform", `${x.type} ${x.name}`);
            }
        });
    }

    it("keeps an object's own annotations next to the field manager", async () => {
        const r = await render("baremetal", (raw) => {
            everything(raw);
            raw.skipAwait = true;
        });
        const job = r.get("kubernetes:batch/v1:Job", "mssql-rciis-prod-RCIIS-restore");
        assert.deepStrictEqual(annotations(job), { "pulumi.com/skipAwait": "true", ...owned("baremetal") });
    });

    describe("chart objects (transform; runs under the engine only)", () => {
        const args = (type: string, props: Obj, custom = true) => ({ custom, type, name: "x", props, opts: {} });

        it("adds the manager to every object a chart renders, keeping its annotations", async () => {
            const props = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", annotations: { "helm.sh/hook": "pre-install" } } };
            const result = await ownChartObjects(args("kubernetes:core/v1:ConfigMap", props));
            assert.deepStrictEqual(result?.props.metadata, {
                name: "a",
                annotations: { "helm.sh/hook": "pre-install", [FIELD_MANAGER_ANNOTATION]: stackFieldManager() },
            });
            assert.deepStrictEqual(props.metadata.annotations, { "helm.sh/hook": "pre-install" }, "the input is not mutated");
        });

        it("adds metadata when a rendered object has none", async () => {
            const result = await ownChartObjects(args("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", { kind: "X" }));
            assert.deepStrictEqual(result?.props.metadata, { annotations: { [FIELD_MANAGER_ANNOTATION]: stackFieldManager() } });
        });

        it("retains the CRDs a chart installs on delete, as Helm does; other chart objects are deleted as usual", async () => {
            // Deleting Velero's CRDs deletes every Backup, Restore and Schedule object with them.
            const crd = await ownChartObjects(
                args("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", { kind: "CustomResourceDefinition" }),
            );
            assert.strictEqual(crd?.opts.retainOnDelete, true);
            const deployment = await ownChartObjects(args("kubernetes:apps/v1:Deployment", { kind: "Deployment" }));
            assert.strictEqual(deployment?.opts.retainOnDelete, undefined);
        });

        it("leaves components and other providers' resources alone", async () => {
            assert.strictEqual(await ownChartObjects(args("kubernetes:helm.sh/v4:Chart", {}, false)), undefined);
            assert.strictEqual(await ownChartObjects(args("random:index/randomPassword:RandomPassword", { length: 8 })), undefined);
        });
    });
});
