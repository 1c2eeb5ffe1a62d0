// `node bin/e2e/bench/dashboard-size.js` (after `npm run build`): the dashboard's JSON in bytes for fleets of PostgreSQL
// databases (the baremetal stack file, two databases per namespace), without and with scheduled drills, as program.ts
// plans it before registering anything. Deterministic: no runs, no cluster. Prints Markdown.
import { dashboardJson } from "../../components/dashboard";
import { parseConfig } from "../../config";
import { plannedAlertsArgs } from "../../program";
import { stackConfig } from "../../test/harness";

const SIZES = (process.argv[2] ?? "1,10,100,500,1000").split(",").map(Number);

/** The dashboard JSON's bytes for `n` databases, or the refusal's size when it does not fit. */
function bytes(n: number, drills: boolean): string {
    const raw = stackConfig("baremetal");
    const namespaces = Array.from({ length: Math.ceil(n / 2) }, (_, i) => `team-${i}`);
    raw.namespaces = namespaces;
    raw.postgres = Array.from({ length: n }, (_, i) => ({ name: `db-${i}`, namespace: namespaces[i % namespaces.length] }));
    if (drills) raw.drills = { enabled: true, schedule: "0 5 * * 0" };
    try {
        const alerts = plannedAlertsArgs(parseConfig(raw));
        return String(Buffer.byteLength(dashboardJson({ alerts, namespace: "monitoring", labels: {}, uid: "backup-platform" })));
    } catch (err) {
        const kib = /is (\d+) KiB/.exec(String(err))?.[1];
        if (kib === undefined) throw err;
        return `refused (${kib} KiB)`;
    }
}

process.stdout.write("| databases | bytes | bytes with drills |\n| --- | --- | --- |\n");
for (const n of SIZES) process.stdout.write(`| ${n} | ${bytes(n, false)} | ${bytes(n, true)} |\n`);
