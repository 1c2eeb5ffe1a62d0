// Root hooks for the e2e suite: one toolchain and one local control plane for every test file.
import { startCluster, stopCluster, toolchainEnv } from "../harness";

export const shared: { env: NodeJS.ProcessEnv; kubeconfig: string } = { env: {}, kubeconfig: "" };

export const mochaHooks = {
    beforeAll(this: Mocha.Context): void {
        this.timeout(60 * 60_000);
        shared.env = toolchainEnv();
        shared.kubeconfig = startCluster(shared.env);
    },
    afterAll(): void {
        if (process.env.E2E_KEEP !== "1") stopCluster(shared.env);
    },
};
