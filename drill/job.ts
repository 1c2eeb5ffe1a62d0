// The in-cluster drill runner (the drill CronJob's container): the same drill as `npm run drill`,
// configured by environment, talking to the API server as the pod's service account. `npm run build`
// bundles it with what it imports (drill/core.ts, drill/manifests.ts, core/names.ts, kube/client.ts) into
// drill/dist/runner.js (esbuild), which components/drills.ts ships in a ConfigMap.
// Exit codes: 0 the drill passed, 1 it failed, 3 the runner could not start one (its environment), 4 its report
// ConfigMap could not be written (drill/core.ts, runAndReport).
import { runAndReport } from "./core";
import { summary } from "./manifests";
import { Kube } from "../kube/client";

function required(name: string): string {
    const value = process.env[name];
    if (value === undefined || value === "") throw new Error(`${name} is not set`);
    return value;
}

async function main(): Promise<number> {
    const namespace = required("DRILL_NAMESPACE");
    const database = required("DRILL_DATABASE");
    const timeoutSeconds = Number(required("DRILL_TIMEOUT_SECONDS"));
    const kube = Kube.inCluster();
    // activeDeadlineSeconds and node drains send SIGTERM: stop waiting, clean up, report.
    const abort = new AbortController();
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => abort.abort());
    try {
        const { report, code } = await runAndReport(kube, {
            namespace,
            database,
            timeoutSeconds,
            checkImage: process.env.DRILL_CHECK_IMAGE || undefined,
            signal: abort.signal,
            log: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
        });
        process.stderr.write(`${summary(report)}\n`);
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return code;
    } finally {
        kube.close();
    }
}

main().then(
    (code) => process.exit(code),
    (err: unknown) => {
        process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(3);
    },
);
