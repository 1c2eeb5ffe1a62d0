// `npm run render -- --stack <aws|baremetal> [--config-file <file>]`: evaluates the real program
// under Pulumi's mock runtime (no cloud, cluster or CLI) and prints every resource it registers.
import { main } from "../program";
import { MASK, record } from "./recorder";
import { readStackConfig, stackFile } from "./stackfile";

function usage(message: string): never {
    process.stderr.write(`${message}\nusage: npm run render -- --stack <name> [--config-file <Pulumi.<stack>.yaml-style file>]\n`);
    process.exit(64);
}

async function run(argv: string[]): Promise<void> {
    let stack: string | undefined;
    let file: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--stack") stack = argv[++i];
        else if (arg === "--config-file") file = argv[++i];
        else usage(`unknown argument ${arg}`);
    }
    if (!stack) usage("--stack is required");
    try {
        const { config, secretKeys } = readStackConfig(file ?? stackFile(stack));
        const { resources, outputs } = await record(main, { stack, config, secretKeys });
        process.stdout.write(`${JSON.stringify({ stack, masked: MASK, resources, outputs }, null, 2)}\n`);
    } catch (err) {
        // Config errors are pulumi.RunError and stack-file errors name the file and line: print the message only, as `pulumi up` would.
        process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(2);
    }
}

run(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
