// The program's own Kubernetes and random providers, registered before anything else.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/** The providers every resource of the program uses. */
export interface Providers {
    readonly kubernetes: k8s.Provider;
    readonly random: random.Provider;
}

/**
 * Registers the providers. index.ts calls this before it loads the rest of the program, so the engine starts and
 * configures the provider plugins while Node.js is still loading the config schema and the components; with the
 * default providers that work waited for the first resource (BENCHMARKS.md: about 0.15 s of every `up`).
 *
 * Explicit providers do not read the `kubernetes:*` stack config by themselves: of it this passes on `kubeconfig`,
 * `context` and `cluster`; anything unset falls back to the ambient kubeconfig as the default provider would.
 */
export function providers(): Providers {
    const config = new pulumi.Config("kubernetes");
    return {
        kubernetes: new k8s.Provider("kubernetes", {
            kubeconfig: config.getSecret("kubeconfig"),
            context: config.get("context"),
            cluster: config.get("cluster"),
        }),
        random: new random.Provider("random", {}),
    };
}

/** Resource options that hand the providers to a component, which passes them on to its children. */
export function componentOptions(p: Providers): pulumi.ComponentResourceOptions {
    return { providers: [p.kubernetes, p.random] };
}
