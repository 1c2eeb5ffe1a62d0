// The restore drill's scenarios against the real local API server: the same scenarios as the
// in-memory run (test/drill.test.ts), with the CRD schemas, status subresources, Job validation and
// garbage collection of a real kube-apiserver and kube-controller-manager.
import { apiPath, type Kube } from "../../kube/client";
import { drillScenarios } from "../../test/drill-scenarios";
import { kube, settledNamespace } from "../harness";
import { shared } from "./hooks";

const NAMESPACE = "drill-e2e";

let client: Kube | undefined;

after(() => client?.close());

drillScenarios(
    "restore drill scenarios (real API server)",
    async () => {
        const k = kube(shared.kubeconfig);
        client = k;
        await settledNamespace(k, NAMESPACE);
        await k.apply(
            apiPath("", "v1", "namespaces", undefined, NAMESPACE),
            { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } },
            "e2e",
        );
        const clear = async (group: string, version: string, plural: string) => {
            for (const o of await k.list(apiPath(group, version, plural, NAMESPACE))) {
                await k.delete(apiPath(group, version, plural, NAMESPACE, o.metadata?.name), { propagationPolicy: "Background" });
            }
        };
        return {
            client: k,
            namespace: NAMESPACE,
            setStatus: async (path, status) => {
                await k.patchStatus(path, status);
            },
            reset: async () => {
                await clear("postgresql.cnpg.io", "v1", "clusters");
                await clear("batch", "v1", "jobs");
                await clear("", "v1", "configmaps");
                // Deletions are asynchronous for Jobs (their pods' owner references): wait until empty.
                for (let i = 0; i < 100 && (await k.list(apiPath("batch", "v1", "jobs", NAMESPACE))).length > 0; i++) {
                    await new Promise((r) => setTimeout(r, 100));
                }
            },
        };
    },
    { pollMs: 50, timeoutSeconds: 5 },
);
