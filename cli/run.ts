// Entry-point wrapper shared by the command-line tools: the exit code `run` returns, or 3 with the
// error's message (no stack trace) when it throws.
export function runCli(run: (argv: string[]) => Promise<number>): void {
    run(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (err: unknown) => {
            process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(3);
        },
    );
}
