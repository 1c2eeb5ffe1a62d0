// One measured render, in its own process: prints {wallMs, firstResourceMs, maxRssKb, resources} as JSON.
// Used by e2e/bench/bench.ts; run directly with --program real|empty --stack <s> [--config-file <f>].
import { record } from "../../cli/recorder";
import { readStackConfig, stackFile } from "../../cli/stackfile";

async function run(argv: string[]): Promise<void> {
    const arg = (name: string) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const stack = arg("--stack") ?? "baremetal";
    const which = arg("--program") ?? "real";
    const { config, secretKeys } = readStackConfig(arg("--config-file") ?? stackFile(stack));
    const platform = JSON.stringify(config["backup:platform"] ?? "").replace(/"/g, "");
    // Imported here, not at the top, so module loading is part of what is measured.
    const program =
        which === "empty"
            ? async () => (await import("./empty-program")).emptyProgram(platform)
            : async () => (await import("../../program")).main();
    const result = await record(program, { stack, config, secretKeys });
    const wallMs = performance.now();
    process.stdout.write(
        `${JSON.stringify({ wallMs, firstResourceMs: result.firstRegistrationMs ?? null, maxRssKb: process.resourceUsage().maxRSS, resources: result.resources.length })}\n`,
    );
}

run(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
