// The alert rules evaluated by Prometheus itself (issue 15): promtool, built from github.com/prometheus/prometheus by
// e2e/toolchain.sh, checks the rule file of each stack in test/alert-stacks.ts and runs the rule unit tests generated
// from the same code (test/alert-cases.ts). Then verify and the coverage alert are held to one answer: the PVCs
// `evaluate()` reports unprotected for the shared fixture are exactly the alerts promtool sees firing for the
// kube-state-metrics series of that fixture. Needs no cluster.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify } from "yaml";
import { alertSpecs } from "../../components/alerts";
import { coverageCanFail } from "../../core/coverage";
import { evaluate } from "../../cli/checks";
import { emptySnapshot } from "../../cli/snapshot";
import { expectedAlerts, INTERVAL, promtoolFiles, seriesText } from "../../test/alert-cases";
import { ALERT_STACKS, alertStackConfig, alertsArgsFor } from "../../test/alert-stacks";
import { coverageFixture, ksmPvcSeries, pvcObjects } from "../../test/coverage-fixture";
import { ROOT } from "../harness";
import { coverageRules } from "../../config/coverage";

const CACHE =
    process.env.BACKUP_PLATFORM_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "k8s-backup-platform");
const VERSION = /^PROMETHEUS_VERSION=(.+)$/m.exec(fs.readFileSync(path.join(ROOT, "e2e", "versions.env"), "utf8"))?.[1];
const PROMTOOL = path.join(CACHE, "bin", `promtool-${VERSION}`, "promtool");

const promtool = (...args: string[]) => spawnSync(PROMTOOL, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
const ok = (res: ReturnType<typeof promtool>, what: string) =>
    assert.strictEqual(res.status, 0, `${what} failed (${String(res.status)}):\n${res.stdout}\n${res.stderr}`.slice(0, 20_000));

describe("alert rules under promtool", () => {
    let tmp: string;

    before(function () {
        this.timeout(40 * 60_000);
        // Optional toolchain component: built on first use (~19 min cold on the shared 2-core machine), then cached.
        const res = spawnSync("bash", [path.join(ROOT, "e2e", "toolchain.sh"), "promtool"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
        assert.strictEqual(res.status, 0, `e2e/toolchain.sh promtool failed:\n${res.stderr}`);
        assert.ok(fs.existsSync(PROMTOOL), `${PROMTOOL} missing after e2e/toolchain.sh`);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "alerts-e2e-"));
    });
    after(() => {
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    for (const [i, st] of ALERT_STACKS.entries()) {
        it(`${st.name}: the rules pass promtool check and their generated unit tests`, function () {
            this.timeout(10 * 60_000);
            const files = promtoolFiles(alertsArgsFor(alertStackConfig(st)), `rules-${i}.yaml`);
            fs.writeFileSync(path.join(tmp, `rules-${i}.yaml`), files.rules);
            fs.writeFileSync(path.join(tmp, `tests-${i}.yaml`), files.tests);
            ok(promtool("check", "rules", path.join(tmp, `rules-${i}.yaml`)), "promtool check rules");
            const t0 = Date.now();
            const res = promtool("test", "rules", path.join(tmp, `tests-${i}.yaml`));
            ok(res, "promtool test rules");
            assert.match(res.stdout, /SUCCESS/);
            console.log(`      ${st.name}: ${files.alerts} alerts x ${files.cases} cases passed in ${Date.now() - t0} ms`);
        });
    }

    it("fails a generated test whose expectation is wrong (the harness can fail)", function () {
        this.timeout(5 * 60_000);
        const args = alertsArgsFor(alertStackConfig(ALERT_STACKS[0]));
        // One minute more of threshold than the cases were generated for: every "fires" case must now fail.
        const files = promtoolFiles(args, "rules-late.yaml");
        fs.writeFileSync(path.join(tmp, "rules-late.yaml"), files.rules.replace(/> 97200\b/g, "> 97260"));
        fs.writeFileSync(path.join(tmp, "tests-late.yaml"), files.tests);
        const res = promtool("test", "rules", path.join(tmp, "tests-late.yaml"));
        assert.notStrictEqual(res.status, 0, res.stdout);
        assert.match(res.stdout + res.stderr, /MSSQLBackupMissing.*fires/);
    });

    for (const st of ALERT_STACKS) {
        const cfg = alertStackConfig(st);
        const rules = coverageRules(cfg);
        if (!coverageCanFail(rules)) continue;
        it(`${st.name}: verify's unprotected PVCs are exactly those the coverage alert fires for`, function () {
            this.timeout(5 * 60_000);
            const pvcs = coverageFixture(rules);
            const unprotected = evaluate(cfg, { ...emptySnapshot(), pvcs: pvcObjects(pvcs) }, Date.parse("2026-11-21T12:00:00Z"))
                .filter((r) => r.kind === "pvc" && r.name !== "*" && r.status === "FAIL")
                .map((r) => r.name);
            assert.ok(unprotected.length > 0 && unprotected.length < pvcs.length, `${unprotected.length} of ${pvcs.length}`);
            const spec = alertSpecs(alertsArgsFor(cfg)).find((s) => s.rule.alert === "PersistentVolumeClaimNotBackedUp");
            assert.ok(spec, "no coverage rule");
            const hold = Number(/^(\d+)m$/.exec(spec.rule.for)?.[1]) * 60;
            const firing = unprotected.map((name) => {
                const p = pvcs.find((x) => `${x.namespace}/${x.name}` === name);
                assert.ok(p, name);
                return {
                    namespace: p.namespace,
                    persistentvolumeclaim: p.name,
                    storageclass: p.storageClassName,
                    severity: spec.rule.labels.severity,
                };
            });
            const file = path.join(tmp, "coverage-rules.yaml");
            fs.writeFileSync(file, stringify({ groups: [{ name: "coverage", rules: [spec.rule] }] }));
            const series = ksmPvcSeries(pvcs).map((labels) => ({
                series: seriesText(labels),
                values: `1x${hold / INTERVAL + 2}`,
            }));
            const tests = {
                rule_files: ["coverage-rules.yaml"],
                evaluation_interval: `${INTERVAL}s`,
                tests: [
                    {
                        interval: `${INTERVAL}s`,
                        input_series: series,
                        alert_rule_test: [
                            {
                                eval_time: `${hold}s`,
                                alertname: spec.rule.alert,
                                exp_alerts: expectedAlerts(spec.rule, firing),
                            },
                        ],
                    },
                ],
            };
            fs.writeFileSync(path.join(tmp, "coverage-tests.yaml"), stringify(tests, { lineWidth: 0 }));
            ok(promtool("test", "rules", path.join(tmp, "coverage-tests.yaml")), "promtool test rules (verify's answer)");
            console.log(`      ${st.name}: ${unprotected.length} of ${pvcs.length} PVCs unprotected, by verify and by the alert`);
        });
    }
});
