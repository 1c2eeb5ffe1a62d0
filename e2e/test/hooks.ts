// Root hooks for the e2e suite: one toolchain, one local control plane, one object store (Ceph RGW) and the
// Rook stand-in reconciling the program's object users and bucket claims into it, for every test file.
import type { ChildProcess } from "child_process";
import * as path from "path";
import {
    installRook,
    kube,
    objectStoreEnv,
    startCluster,
    startObjectStore,
    startRook,
    stopCluster,
    stopObjectStore,
    stopRook,
    toolchainEnv,
    type ObjectStore,
} from "../harness";

export const shared: { env: NodeJS.ProcessEnv; kubeconfig: string; store: ObjectStore; rookLog: string } = {
    env: {},
    kubeconfig: "",
    store: { endpoint: "", cephConf: "", startedHere: false },
    rookLog: "",
};
let rook: ChildProcess | undefined;

export const mochaHooks = {
    async beforeAll(this: Mocha.Context): Promise<void> {
        this.timeout(60 * 60_000);
        shared.env = objectStoreEnv(toolchainEnv());
        shared.kubeconfig = startCluster(shared.env);
        shared.store = startObjectStore(shared.env);
        const k = kube(shared.kubeconfig);
        try {
            await installRook(k);
        } finally {
            k.close();
        }
        // Beside the kubeconfig, so it lives (and is purged) with the cluster's state dir.
        shared.rookLog = path.join(path.dirname(shared.kubeconfig), "rook-standin.log");
        rook = startRook(shared.env, shared.kubeconfig, shared.store, shared.rookLog);
    },
    async afterAll(): Promise<void> {
        if (rook) await stopRook(rook);
        if (process.env.E2E_KEEP === "1") return;
        if (shared.store.startedHere) stopObjectStore(shared.env);
        stopCluster(shared.env);
    },
};
