// Every query of the backup dashboard, as the real program renders it for both example stacks and for one with every
// backup path on, goes through Prometheus' own parser: `promtool check rules` on a file holding each query as a
// recording rule. The queries are those Grafana runs: the repeated rows drawn once per database, their variables filled
// in (test/grafana.ts). The unit tests prove what the panels select; only promtool proves Prometheus will run them.
//
// promtool comes from e2e/toolchain.sh (component `promtool`, version PROMETHEUS_VERSION in e2e/versions.env), or
// from $PROMTOOL when set. Needs no cluster: it uses nothing of the suite's shared hooks.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { dashboardQueries } from "../../components/dashboard";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { shown, type Model } from "../../test/grafana";
import { ROOT } from "../harness";

/** Builds promtool (cached) and returns its path. */
function promtool(): string {
    if (process.env.PROMTOOL) return process.env.PROMTOOL;
    const build = spawnSync("bash", [path.join(ROOT, "e2e", "toolchain.sh"), "promtool"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
    });
    assert.strictEqual(build.status, 0, "e2e/toolchain.sh promtool failed");
    const versions = fs.readFileSync(path.join(ROOT, "e2e", "versions.env"), "utf8");
    const version = /^PROMETHEUS_VERSION=(\S+)$/m.exec(versions)?.[1];
    assert.ok(version, "e2e/versions.env has no PROMETHEUS_VERSION");
    const cache =
        process.env.BACKUP_PLATFORM_CACHE ??
        path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "k8s-backup-platform");
    return path.join(cache, "bin", `promtool-${version}`, "promtool");
}

/** Grafana's interval variables, as a literal duration (promtool knows no Grafana). */
function substituteGrafanaVariables(query: string): string {
    return query.replace(/\$\{?__(range|interval|rate_interval)\}?/g, "5m");
}

/** What Grafana draws of the dashboard JSON of `npm run render` for a stack file, run as its own process (the real program, mock engine). */
function renderedDashboard(stack: string, configFile: string): Dashboard {
    const res = spawnSync(process.execPath, [path.join(ROOT, "bin", "cli", "render.js"), "--stack", stack, "--config-file", configFile], {
        cwd: ROOT,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
    });
    assert.strictEqual(res.status, 0, `render ${stack}: ${res.stderr}`);
    const { resources } = JSON.parse(res.stdout) as {
        resources: { type: string; name: string; inputs: { data: Record<string, string> } }[];
    };
    const cm = resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "backup-dashboard-configmap");
    assert.ok(cm, `render ${stack} has no dashboard ConfigMap`);
    return shown(JSON.parse(Object.values(cm.inputs.data)[0]) as Model) as unknown as Dashboard;
}

/** A copy of a stack file with `backup:` keys replaced. */
function stackVariant(dir: string, stack: string, name: string, keys: Record<string, unknown>): string {
    const { config } = readStackConfig(stackFile(stack));
    const merged: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(config)) {
        try {
            merged[k] = JSON.parse(v);
        } catch {
            merged[k] = v;
        }
    }
    for (const [k, v] of Object.entries(keys)) merged[`backup:${k}`] = v;
    const file = path.join(dir, `Pulumi.${name}.yaml`);
    fs.writeFileSync(file, stringify({ config: merged }));
    return file;
}

/** Runs `promtool check rules` on `queries`, each as a recording rule. */
function checkRules(bin: string, dir: string, name: string, queries: string[]): { status: number | null; out: string } {
    const file = path.join(dir, `${name}.rules.yaml`);
    const rules = queries.map((q, n) => ({ record: `dashboard:query_${n + 1}`, expr: substituteGrafanaVariables(q) }));
    fs.writeFileSync(file, stringify({ groups: [{ name: `dashboard-${name}`, rules }] }));
    const res = spawnSync(bin, ["check", "rules", file], { encoding: "utf8" });
    return { status: res.status, out: `${res.stdout}${res.stderr}` };
}

describe("backup dashboard queries (promtool)", function () {
    this.timeout(30 * 60_000);
    let bin: string;
    let dir: string;
    before(() => {
        bin = promtool();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-e2e-"));
    });
    after(() => {
        if (dir && process.env.E2E_KEEP !== "1") fs.rmSync(dir, { recursive: true, force: true });
    });

    it("rejects a query Prometheus cannot parse (the check can fail)", () => {
        const res = checkRules(bin, dir, "broken", ['time() - max(velero_backup_last_successful_timestamp{schedule="daily"}']);
        assert.notStrictEqual(res.status, 0, res.out);
    });

    it("parses every panel query of both example stacks and of one with every backup path on", () => {
        const variants: [string, string, string][] = [
            ["aws", "aws", stackFile("aws")],
            ["baremetal", "baremetal", stackFile("baremetal")],
        ];
        for (const method of ["plugin", "barmanObjectStore"]) {
            variants.push([
                `everything-${method}`,
                "baremetal",
                stackVariant(dir, "baremetal", `everything-${method}`, {
                    cnpg: { method, schedule: "0 0 2 * * 0" },
                    offsite: {
                        enabled: true,
                        schedule: "0 6 * * *",
                        destination: {
                            endpoint: "https://s3.eu-west-1.amazonaws.com",
                            region: "eu-west-1",
                            bucket: "rciis-offsite",
                            credentialsSecret: { name: "dest" },
                        },
                    },
                    drills: { enabled: true, schedule: "0 5 * * 0" },
                }),
            ]);
        }
        for (const [name, stack, file] of variants) {
            const queries = dashboardQueries(renderedDashboard(stack, file));
            assert.ok(queries.length >= 10, `${name}: only ${queries.length} queries`);
            for (const q of queries)
                assert.doesNotMatch(substituteGrafanaVariables(q), /\$\{?[A-Za-z_]/, `${name}: unresolved variable in ${q}`);
            const res = checkRules(bin, dir, name, queries);
            assert.strictEqual(res.status, 0, `${name}: promtool check rules failed:\n${res.out}`);
            assert.match(res.out, new RegExp(`SUCCESS: ${queries.length} rules found`), res.out);
        }
    });
});
