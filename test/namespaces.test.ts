// The namespaces the program creates: never deleted by destroy (they may have existed and hold others' objects), and
// labelled with the Pod Security level their workloads meet.
import * as assert from "assert";
import { owned, render, type Raw, type Rendered } from "./harness";

type Obj = Record<string, unknown>;
const NAMESPACE = "kubernetes:core/v1:Namespace";

/** Bare metal with the off-site copy: the stack that creates the most namespaces. */
const offsite = (raw: Raw) => (raw.offsite = { enabled: true, aws: { region: "eu-west-1", bucket: "rciis-offsite-backups" } });
const nodeAgent = (raw: Raw) => (raw.velero = { ...(raw.velero as Raw), nodeAgent: true });

const labels = (r: Rendered, name: string) => (r.get(NAMESPACE, name).inputs.metadata as Obj).labels;
const podSecurity = (level: string) => ({
    "pod-security.kubernetes.io/enforce": level,
    "pod-security.kubernetes.io/enforce-version": "v1.35",
    "pod-security.kubernetes.io/warn": level,
    "pod-security.kubernetes.io/warn-version": "v1.35",
    "pod-security.kubernetes.io/audit": level,
    "pod-security.kubernetes.io/audit-version": "v1.35",
});

describe("namespaces the program creates", () => {
    const cases: [string, string, (raw: Raw) => void, string[]][] = [
        ["aws", "aws", () => undefined, ["velero"]],
        ["bare metal", "baremetal", () => undefined, ["velero"]],
        ["bare metal, off-site copy and node agent", "baremetal", (raw) => (offsite(raw), nodeAgent(raw)), ["backup-offsite", "velero"]],
        // Namespaces are kept whatever dataSafety says: unlike a bucket, the program cannot know what else is in one.
        [
            "bare metal, off-site copy, dataSafety.retainOnDelete false",
            "baremetal",
            (raw) => (offsite(raw), (raw.dataSafety = { retainOnDelete: false })),
            ["backup-offsite", "velero"],
        ],
    ];
    for (const [what, stack, edit, expected] of cases) {
        it(`${what}: every Namespace registered is retained on delete`, async () => {
            const r = await render(stack, edit);
            const namespaces = r.all(NAMESPACE);
            assert.deepStrictEqual(
                namespaces.map((n) => n.name),
                expected,
            );
            for (const n of namespaces) assert.strictEqual(n.options.retainOnDelete, true, `Namespace ${n.name}`);
        });
    }

    it("a changed velero.namespace keeps the resource name: the old namespace is left, not deleted, by the replacement", async () => {
        const r = await render("baremetal", (raw) => (raw.velero = { ...(raw.velero as Raw), namespace: "backup-velero" }));
        const ns = r.get(NAMESPACE, "velero");
        assert.strictEqual((ns.inputs.metadata as Obj).name, "backup-velero");
        assert.strictEqual(ns.options.retainOnDelete, true);
    });

    it("Velero's namespace enforces restricted Pod Security, the off-site copy's too", async () => {
        const r = await render("baremetal", offsite);
        assert.deepStrictEqual(r.get(NAMESPACE, "velero").inputs.metadata, {
            name: "velero",
            labels: podSecurity("restricted"),
            annotations: owned("baremetal"),
        });
        assert.deepStrictEqual(labels(r, "backup-offsite"), podSecurity("restricted"));
        assert.deepStrictEqual(labels(await render("aws"), "velero"), podSecurity("restricted"));
    });

    it("with the node agent (hostPath volumes, which baseline forbids) Velero's namespace is privileged; the copy's stays restricted", async () => {
        const r = await render("baremetal", (raw) => (offsite(raw), nodeAgent(raw)));
        assert.deepStrictEqual(labels(r, "velero"), podSecurity("privileged"));
        assert.deepStrictEqual(labels(r, "backup-offsite"), podSecurity("restricted"));
    });
});
