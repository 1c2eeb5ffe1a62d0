// Entry point of the Pulumi program; see program.ts for the wiring.
//
// The order is about speed, measured (BENCHMARKS.md), and keeps the rule that a bad config registers nothing:
// 1. validate the config (this module's imports load the schema);
// 2. register the providers, so the engine starts and configures the provider plugins while Node.js goes on;
// 3. only then load the components (program.ts) and build the stack.
// Node.js's own stack-trace formatting replaces source-map-support's: the SDK records a full stack trace for every
// resource it registers, and mapping each frame through source maps cost about 0.2 s per run at 50 resources,
// growing with the fleet. Stack traces of unexpected errors point into bin/*.js instead of the .ts sources.
import { programConfig } from "./config";
import { providers } from "./providers";

Reflect.deleteProperty(Error, "prepareStackTrace");

export = async (): Promise<Record<string, unknown>> => {
    const cfg = programConfig();
    const early = providers();
    // Let the registrations go out before the synchronous work of loading and building the rest holds the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    const { deploy } = await import("./program");
    return deploy(cfg, early);
};
