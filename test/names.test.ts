// The longest names config validation lets through still give valid Kubernetes names and label values in
// everything the program renders: the limits in config/ and core/names.ts agree with what Kubernetes accepts.
import * as assert from "assert";
import {
    CRONJOB_NAME_MAX,
    DNS_LABEL_MAX,
    labelValueProblem,
    mssqlBackupJobName,
    mssqlRestoreJobName,
    mssqlScriptsName,
} from "../core/names";
import { render, type Raw } from "./harness";

const LONGEST_MSSQL = `R${"x".repeat(37)}Z`;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Names at the limits: a 44-character CNPG cluster (drills on), a 39-character SQL Server database, a 63-character schedule. */
function longest(raw: Raw): void {
    const postgres = raw.postgres as Raw[];
    postgres[0].name = `p${"g".repeat(43)}`;
    (raw.mssql as Raw[])[0].name = LONGEST_MSSQL;
    raw.drills = { enabled: true, schedule: "0 5 * * 0" };
    raw.velero = { schedules: { [`s${"c".repeat(62)}`]: { schedule: "0 2 * * *", ttl: "720h" } } };
}

describe("derived names", () => {
    it("derives the SQL Server names from core/names.ts", () => {
        assert.deepStrictEqual(
            [mssqlBackupJobName("RCIIS_Prod"), mssqlRestoreJobName("RCIIS_Prod"), mssqlScriptsName("RCIIS_Prod")],
            ["rciis-prod-mssql-backup", "rciis-prod-mssql-restore", "rciis-prod-mssql-backup-scripts"],
        );
    });

    for (const stack of ["aws", "baremetal"]) {
        it(`stay valid at the longest names config allows (${stack})`, async () => {
            const r = await render(stack, longest);
            const problems: string[] = [];
            for (const res of r.resources) {
                const meta = (res.inputs.metadata ?? {}) as { name?: unknown; labels?: Record<string, unknown> };
                if (typeof meta.name === "string") {
                    const max = res.type === "kubernetes:batch/v1:CronJob" ? CRONJOB_NAME_MAX : DNS_LABEL_MAX;
                    if (meta.name.length > max || !SUBDOMAIN.test(meta.name))
                        problems.push(`${res.type} ${meta.name} (${meta.name.length})`);
                }
                for (const [k, v] of Object.entries(meta.labels ?? {})) {
                    const problem = typeof v === "string" ? labelValueProblem(v) : undefined;
                    if (problem !== undefined) problems.push(`${res.type} ${res.name} label ${k}: ${problem}`);
                }
            }
            assert.deepStrictEqual(problems, []);
            assert.ok(
                r.resources.some(
                    (res) => (res.inputs.metadata as { name?: string } | undefined)?.name === mssqlBackupJobName(LONGEST_MSSQL),
                ),
            );
        });
    }
});
