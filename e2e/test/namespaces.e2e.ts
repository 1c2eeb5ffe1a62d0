// A namespace that exists before the program names it (velero.namespace): `up` adopts it and labels it for Pod
// Security, whose admission then accepts the Velero pod there; `destroy` leaves the namespace and what else is in it.
import * as assert from "assert";
import { apiPath, KubeError, type Kube, type KubeObject } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { kube, localOverrides, settledNamespace } from "../harness";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
const NAMESPACE = "velero-existing";
const OTHER_TEAM = "e2e-other-team";
const NS_PATH = apiPath("", "v1", "namespaces", undefined, NAMESPACE);
const CONFIGMAP_PATH = apiPath("", "v1", "configmaps", NAMESPACE, "not-ours");

describe("an existing namespace named as velero.namespace (real API server)", function () {
    this.timeout(10 * 60_000);
    let ws: Workspace;
    let k: Kube;
    let uid: unknown;

    const get = async (path: string): Promise<KubeObject> => {
        const obj = await k.get(path);
        assert.ok(obj, `${path} not found`);
        return obj;
    };
    /** The Velero Deployment's pod template, as a Pod created with dryRun: admission runs in full, nothing is stored. */
    const admit = (spec: Obj) =>
        k.create(`${apiPath("", "v1", "pods", NAMESPACE)}?dryRun=All`, {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "velero-admission-check" },
            spec,
        });

    before(async () => {
        k = kube(shared.kubeconfig);
        await settledNamespace(k, NAMESPACE);
        // Another team's namespace and object, created before the stack exists.
        const ns = await k.apply(NS_PATH, { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } }, OTHER_TEAM);
        uid = (ns?.metadata as Obj | undefined)?.uid;
        await k.apply(
            CONFIGMAP_PATH,
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "not-ours", namespace: NAMESPACE }, data: { owner: OTHER_TEAM } },
            OTHER_TEAM,
        );
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        const velero = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:velero"] ?? "{}") as Obj;
        ws.init({ ...localOverrides(), "backup:velero": { ...velero, namespace: NAMESPACE } });
    });

    after(async () => {
        if (process.env.E2E_KEEP !== "1") {
            ws?.remove();
            await k?.delete(NS_PATH);
        }
        k?.close();
    });

    it("up adopts the namespace (the same object) and labels it restricted; the other team's ConfigMap is untouched", async () => {
        ws.up();
        const ns = await get(NS_PATH);
        assert.strictEqual((ns.metadata as Obj).uid, uid, "adopted, not re-created");
        const labels = (ns.metadata as { labels: Record<string, string> }).labels;
        assert.strictEqual(labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.strictEqual(labels["pod-security.kubernetes.io/enforce-version"], "v1.35");
        assert.deepStrictEqual((await get(CONFIGMAP_PATH)).data, { owner: OTHER_TEAM });
    });

    it("Pod Security admission accepts the Velero pod there, and refuses it without the init container's security context", async () => {
        const deployment = await get(apiPath("apps", "v1", "deployments", NAMESPACE, "velero"));
        const spec = (deployment.spec as { template: { spec: Obj & { initContainers: Obj[] } } }).template.spec;
        assert.strictEqual(spec.initContainers[0].name, "velero-plugin-for-aws");
        await admit(spec);
        // The values before this fix: the chart's init container as the seeds had it.
        const bare = { ...spec, initContainers: [{ ...spec.initContainers[0], securityContext: undefined }] };
        await assert.rejects(
            () => admit(bare),
            (err: unknown) =>
                err instanceof KubeError && /violates PodSecurity "restricted:v1\.35".*velero-plugin-for-aws/.test(err.message),
        );
    });

    it("destroy leaves the namespace and the other team's ConfigMap; the stack's objects in it are gone", async () => {
        ws.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"]);
        await settledNamespace(k, NAMESPACE);
        const ns = await get(NS_PATH);
        assert.strictEqual((ns.metadata as Obj).uid, uid);
        assert.strictEqual((ns.status as Obj).phase, "Active");
        assert.deepStrictEqual((await get(CONFIGMAP_PATH)).data, { owner: OTHER_TEAM });
        assert.strictEqual(await k.get(apiPath("apps", "v1", "deployments", NAMESPACE, "velero")), undefined);
    });
});
