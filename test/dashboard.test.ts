import * as assert from "assert";
import { RUNBOOK_ANCHORS, type AlertName, type AlertRule } from "../components/alerts";
import { CONFIGMAP_MAX_BYTES, dashboardJson, dashboardQueries, PITR_RUNBOOK } from "../components/dashboard";
import { parseConfig } from "../config";
import { plannedAlertsArgs } from "../program";
import { type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { customOptions, rows, shown, type Model, type Panel } from "./grafana";
import { owned, readmeAnchors, render, stackConfig, type Raw, type Rendered } from "./harness";
import { maxAgeSeconds } from "../core/schedule";

const CM = "kubernetes:core/v1:ConfigMap";
const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const GRACE = 3;

const configMap = (r: Rendered) => r.get(CM, "backup-dashboard-configmap").inputs;
const json = (r: Rendered) => (configMap(r).data as Record<string, string>)["backup-platform-dashboard.json"];
/** The dashboard's JSON as shipped. */
const model = (r: Rendered): Model => JSON.parse(json(r)) as Model;
/** What Grafana draws of it, every repeated row expanded (test/grafana.ts). */
const drawn = (r: Rendered): Model => shown(model(r));
/** The queries of what Grafana draws, found by dashboardQueries in the JSON as the SDK types it. */
const queries = (r: Rendered) => dashboardQueries(drawn(r) as unknown as Dashboard);
const stats = (m: Model) => m.panels.filter((p) => p.type !== "row");
const rules = (r: Rendered): AlertRule[] =>
    (r.get(RULE, "backup-alerts-rules").inputs.spec as { groups: { rules: AlertRule[] }[] }).groups[0].rules;
/** Where a panel turns red, if it does. */
const red = (p: Panel) => p.fieldConfig?.defaults.thresholds?.steps.find((s) => s.color === "red")?.value;
const query = (p: Panel) => (p.targets ?? []).map((t) => t.expr).join("\n");
const linksTo = (p: Panel, alert: AlertName) => (p.links ?? []).some((l) => l.url === `README.md#${RUNBOOK_ANCHORS[alert]}`);

/** A series' labels. */
type Labels = Record<string, string>;

/** Whether a PromQL query has a label selector `{...}` all of whose matchers the series `labels` satisfies. */
function selects(q: string, labels: Labels): boolean {
    return [...q.matchAll(/\{([^{}]*)\}/g)].some((sel) => {
        const matchers = [...sel[1].matchAll(/(\w+)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"/g)];
        return (
            matchers.length > 0 &&
            matchers.every(([, label, op, quoted]) => {
                const value = quoted.replace(/\\(.)/g, "$1");
                const v = labels[label] ?? "";
                const re = new RegExp(`^(?:${value})$`);
                return op === "=" ? v === value : op === "!=" ? v !== value : op === "=~" ? re.test(v) : !re.test(v);
            })
        );
    });
}

/**
 * The subjects of an alert rule, each with a series it watches and the threshold of its expression: a Velero schedule,
 * a CronJob, or (for the CNPG rules, one rule per method) an instance of each cluster of the stack's config; or, for
 * the rules about Velero as a whole, the expression the panel shows.
 */
function subjects(rule: AlertRule, raw: Raw): { series?: Labels; expr?: string; limit?: number }[] {
    const number = (re: RegExp) => {
        const m = re.exec(rule.expr);
        return m ? Number(m[1]) : undefined;
    };
    const velero = /velero_backup_last_successful_timestamp\{schedule="([^"]+)"\}/.exec(rule.expr);
    if (velero) return [{ series: { schedule: velero[1] }, limit: number(/> (\d+)$/) }];
    const cronJob = /\{namespace="([^"]+)",cronjob="([^"]+)"\}/.exec(rule.expr);
    if (cronJob) return [{ series: { namespace: cronJob[1], cronjob: cronJob[2] }, limit: number(/> (\d+)\)/) }];
    if (rule.alert.startsWith("CNPG")) {
        return (raw.postgres as { name: string; namespace: string }[]).map((c) => {
            const series = { namespace: c.namespace, pod: `${c.name}-1` };
            assert.ok(selects(rule.expr, series), `${rule.alert} does not watch ${c.name}`);
            return { series, limit: number(/> (\d+), "cluster"/) };
        });
    }
    // Velero as a whole (failures, storage location): the panel shows the alert's own expression.
    return [{ expr: rule.expr }];
}

/** Bare metal with every optional path: off-site copy, scheduled drills, two SQL Server databases. */
const everything = (method: "plugin" | "barmanObjectStore") => (raw: Raw) => {
    raw.cnpg = { method, schedule: "0 0 2 * * 0" };
    raw.mssql = [
        { name: "RCIIS", namespace: "rciis-prod", schedule: "0 3 * * *" },
        { name: "Audit", namespace: "keycloak", schedule: "0 4 * * 0" },
    ];
    raw.offsite = {
        enabled: true,
        schedule: "0 6 * * *",
        destination: {
            endpoint: "https://s3.eu-west-1.amazonaws.com",
            region: "eu-west-1",
            bucket: "rciis-offsite",
            credentialsSecret: { name: "dest" },
        },
    };
    raw.drills = { enabled: true, schedule: "0 5 * * 0" };
};

describe("backup dashboard", () => {
    const stacks: [string, Rendered, Raw][] = [];
    before(async () => {
        const cases: [string, string, (raw: Raw) => void][] = [
            ["baremetal", "baremetal", () => undefined],
            ["aws", "aws", () => undefined],
            ["everything, plugin", "baremetal", everything("plugin")],
            [
                "everything, in-tree",
                "baremetal",
                (raw) => {
                    everything("barmanObjectStore")(raw);
                    // Velero for two namespaces only, on one snapshot class: PVCs can be uncovered, so the coverage alert exists.
                    raw.velero = {
                        ...(raw.velero as Raw),
                        schedules: { daily: { schedule: "0 2 * * *", ttl: "720h", includedNamespaces: ["rciis-prod", "monitoring"] } },
                        snapshotStorageClasses: ["ceph-block"],
                    };
                },
            ],
        ];
        for (const [what, stack, edit] of cases) {
            let raw: Raw = {};
            const r = await render(stack, (x) => {
                edit(x);
                raw = x;
            });
            stacks.push([what, r, raw]);
        }
    });

    it("ships one ConfigMap the kube-prometheus-stack sidecar picks up, well under the 1 MiB limit", () => {
        for (const [what, r] of stacks) {
            const cm = configMap(r);
            assert.deepStrictEqual(
                cm.metadata,
                {
                    name: "backup-platform-dashboard",
                    namespace: "monitoring",
                    labels: { "app.kubernetes.io/part-of": "backup-platform", grafana_dashboard: "1" },
                    annotations: owned(what === "aws" ? "aws" : "baremetal"),
                },
                what,
            );
            const data = cm.data as Record<string, string>;
            assert.deepStrictEqual(Object.keys(data), ["backup-platform-dashboard.json"]);
            const bytes = Buffer.byteLength(data["backup-platform-dashboard.json"]);
            console.log(`      ${what}: ${bytes} bytes, ${stats(model(r)).length} panels (${stats(drawn(r)).length} drawn)`);
            assert.ok(bytes < 64 * 1024, `${what}: ${bytes} bytes`);
            assert.strictEqual(model(r).uid, "backup-platform");
        }
    });

    it("stays nearly the same size from 10 to 1000 databases, each drawn with all its panels, and refuses what it cannot fit before registering anything", async function () {
        this.timeout(60_000);
        const fleet = (n: number, drills: boolean) => (raw: Raw) => {
            const namespaces = Array.from({ length: Math.ceil(n / 2) }, (_, i) => `team-${i}`);
            raw.namespaces = namespaces;
            raw.postgres = Array.from({ length: n }, (_, i) => ({ name: `db-${i}`, namespace: namespaces[i % namespaces.length] }));
            if (drills) raw.drills = { enabled: true, schedule: "0 5 * * 0" };
        };
        // The JSON program.ts checks before registering anything (rendering 1000 databases with drills takes a minute).
        const planned = (edit: (raw: Raw) => void): Model => {
            const raw = stackConfig("baremetal");
            edit(raw);
            const alerts = plannedAlertsArgs(parseConfig(raw));
            return JSON.parse(dashboardJson({ alerts, namespace: "monitoring", labels: {}, uid: "backup-platform" })) as Model;
        };
        const titles = (x: Model) => x.panels.filter((p) => p.type === "row").map((p) => p.title);
        const sizes: Record<number, number> = {};
        for (const n of [10, 500, 1000]) {
            const m = planned(fleet(n, true));
            sizes[n] = Buffer.byteLength(JSON.stringify(m));
            // Written once, drawn once per database.
            assert.deepStrictEqual(
                titles(m).filter((t) => /^(PostgreSQL|Restore drill) /.test(t)),
                ["PostgreSQL ${cluster:text}", "Restore drill ${drill:text}"],
            );
            const drawnRows = rows(shown(m));
            for (const [prefix, panels] of [
                ["PostgreSQL", 5],
                ["Restore drill", 2],
            ] as const) {
                const mine = drawnRows.filter((row) => row.title.startsWith(`${prefix} `));
                assert.strictEqual(mine.length, n, `${n} databases: ${mine.length} ${prefix} rows drawn`);
                assert.ok(mine.every((row) => row.panels.length === panels));
            }
            const last = `team-${(n - 1) % (n / 2)}/db-${n - 1}`;
            assert.ok(
                drawnRows.some(
                    (row) =>
                        row.title === `PostgreSQL ${last}` &&
                        selects(query(row.panels[0]), { namespace: last.split("/")[0], pod: `db-${n - 1}-1` }),
                ),
            );
        }
        console.log(`      with drills: 10 databases ${sizes[10]} bytes, 500 ${sizes[500]}, 1000 ${sizes[1000]}`);
        // Only the databases' names grow it (the variables, the coverage expression): under 200 bytes per database, where
        // a row per database took about 9 KB.
        assert.ok((sizes[1000] - sizes[10]) / 990 < 200, `${(sizes[1000] - sizes[10]) / 990} bytes per database`);
        assert.ok(sizes[1000] < CONFIGMAP_MAX_BYTES / 4, `1000 databases: ${sizes[1000]} bytes`);
        // What the program ships is that JSON.
        const thousand = await render("baremetal", fleet(1000, false));
        assert.deepStrictEqual(model(thousand), planned(fleet(1000, false)));
        assert.strictEqual(rows(drawn(thousand)).filter((row) => row.title.startsWith("PostgreSQL ")).length, 1000);

        // A SQL Server database still has a row of its own (its own schedule): enough of them do not fit.
        const mssql = (raw: Raw) => {
            raw.mssql = Array.from({ length: 400 }, (_, i) => ({ name: `DB${i}`, namespace: "rciis-prod", schedule: "0 3 * * *" }));
        };
        await assert.rejects(
            render("baremetal", mssql),
            /backup:dashboard\.enabled: the dashboard for 4 PostgreSQL clusters and 400 SQL Server databases is \d+ KiB, over a ConfigMap's 1024 KiB; set backup:dashboard\.enabled to false/,
        );
        const off = await render("baremetal", (raw) => {
            mssql(raw);
            raw.dashboard = { enabled: false };
        });
        assert.ok(off.resources.length > 400 && !off.resources.some((r) => r.name === "backup-dashboard-configmap"));
    });

    it("gives every subject of every alert a panel that selects it and no other, red from the alert's own threshold", () => {
        const everyAlert = new Set<string>();
        for (const [what, r, raw] of stacks) {
            const panels = stats(drawn(r));
            const emitted = rules(r);
            const all = emitted.flatMap((rule) => subjects(rule, raw).map((s) => ({ alert: rule.alert, ...s })));
            for (const rule of emitted) {
                for (const subject of subjects(rule, raw)) {
                    const name = subject.series ? JSON.stringify(subject.series) : subject.expr;
                    const mine = panels.filter(
                        (p) =>
                            linksTo(p, rule.alert) &&
                            (subject.series ? selects(query(p), subject.series) : query(p).includes(subject.expr as string)),
                    );
                    assert.ok(mine.length > 0, `${what}: no panel for ${rule.alert} ${name}`);
                    const coloured = mine.filter((p) => red(p) !== undefined);
                    assert.strictEqual(coloured.length, 1, `${what}: ${rule.alert} ${name} has ${coloured.length} red/green panels`);
                    assert.strictEqual(red(coloured[0]), subject.limit ?? 1, `${what}: ${rule.alert} ${name}`);
                    // A repeated row's panel selects its own target only, not the others of its variable.
                    for (const other of all.filter((o) => o.alert === rule.alert && o.series && JSON.stringify(o.series) !== name)) {
                        assert.ok(
                            !mine.some((p) => selects(query(p), other.series as Labels)),
                            `${what}: a ${rule.alert} panel of ${name} selects ${JSON.stringify(other.series)}`,
                        );
                    }
                }
            }
            for (const x of emitted) everyAlert.add(x.alert);
        }
        // And the stacks together render every alert there is (Velero, CNPG, SQL Server, off-site, drills, coverage).
        assert.deepStrictEqual([...everyAlert].sort(), Object.keys(RUNBOOK_ANCHORS).sort());
    });

    it("takes each age threshold from the schedule and the grace, as maxAgeSeconds does", () => {
        const [, r, raw] = stacks[2];
        const panels = stats(drawn(r));
        const threshold = (title: string, row?: string) => {
            const found = (row === undefined ? panels : (rows(drawn(r)).find((x) => x.title === row)?.panels ?? [])).filter(
                (p) => p.title === title,
            );
            assert.strictEqual(found.length, 1, `${row ?? ""} ${title}: ${found.length} panels`);
            return red(found[0]);
        };
        assert.strictEqual(threshold("daily-namespaces: since last success"), maxAgeSeconds("0 2 * * *", GRACE));
        assert.strictEqual(threshold("weekly-full: since last success"), maxAgeSeconds("0 3 * * 0", GRACE));
        const ageOf = (series: Labels) => panels.filter((p) => selects(query(p), series) && red(p) !== undefined).map(red);
        assert.deepStrictEqual(ageOf({ namespace: "keycloak", cronjob: "audit-mssql-backup" }), [maxAgeSeconds("0 4 * * 0", GRACE)]);
        assert.deepStrictEqual(ageOf({ namespace: "rciis-prod", cronjob: "rciis-mssql-backup" }), [maxAgeSeconds("0 3 * * *", GRACE)]);
        const cnpgAges = panels.filter((p) => p.title === "Base backup: since last").map(red);
        assert.deepStrictEqual(
            cnpgAges,
            (raw.postgres as unknown[]).map(() => maxAgeSeconds("0 0 2 * * 0", GRACE)),
        );
        assert.strictEqual(cnpgAges[0], 7 * 24 * 3600 + GRACE * 3600);
        assert.strictEqual(
            threshold("Drill: since last success", "Restore drill keycloak/keycloak-pg-drill"),
            maxAgeSeconds("0 5 * * 0", GRACE),
        );
        assert.strictEqual(threshold("Copy backup-offsite/offsite-copy: since last success"), maxAgeSeconds("0 6 * * *", GRACE));

        const graced = stacks.find(([w]) => w === "baremetal")?.[1];
        assert.ok(graced);
        assert.strictEqual(
            stats(drawn(graced)).find((p) => p.title === "daily-namespaces: since last success")?.fieldConfig?.defaults.thresholds?.steps[1]
                .value,
            27 * 3600,
        );
    });

    it("has one row per backup path, and one per database drawn from a row written once", () => {
        const [, r] = stacks[2];
        assert.deepStrictEqual(
            rows(drawn(r)).map((x) => x.title),
            [
                "Coverage",
                "Velero",
                "PostgreSQL keycloak/keycloak-pg",
                "PostgreSQL monitoring/grafana-postgres",
                "PostgreSQL rciis-prod/esb-postgres",
                "PostgreSQL rciis-prod/ss-postgres",
                "SQL Server keycloak/audit-mssql-backup",
                "SQL Server rciis-prod/rciis-mssql-backup",
                "Off-site copy",
                "Restore drill keycloak/keycloak-pg-drill",
                "Restore drill monitoring/grafana-postgres-drill",
                "Restore drill rciis-prod/esb-postgres-drill",
                "Restore drill rciis-prod/ss-postgres-drill",
            ],
        );
        const written = model(r).panels.filter((p) => p.type === "row");
        assert.deepStrictEqual(
            written.filter((p) => p.repeat !== undefined).map((p) => [p.title, p.repeat]),
            [
                ["PostgreSQL ${cluster:text}", "cluster"],
                ["Restore drill ${drill:text}", "drill"],
            ],
        );
        const aws = stacks.find(([w]) => w === "aws")?.[1];
        assert.ok(aws);
        const awsRows = rows(drawn(aws)).map((x) => x.title);
        assert.ok(!awsRows.some((t) => t === "Off-site copy" || t.startsWith("Restore drill")), "nothing to show where nothing runs");
        assert.ok(!model(aws).templating.list.some((v) => v.name === "drill"));
    });

    it("shows the recovery window from the configured method's metric, and the uncovered PVCs", () => {
        for (const [method, metric] of [
            ["plugin", "barman_cloud_cloudnative_pg_io_first_recoverability_point"],
            ["in-tree", "cnpg_collector_first_recoverability_point"],
        ]) {
            const [, r] = stacks.find(([w]) => w === `everything, ${method}`) ?? [];
            assert.ok(r);
            const windows = stats(drawn(r)).filter((p) => p.title === "Recovery window");
            assert.strictEqual(windows.length, 4);
            for (const w of windows) {
                assert.match(
                    query(w),
                    new RegExp(`^time\\(\\) - min\\(${metric}\\{namespace=~"[a-z|-]+",pod=~"\\([a-z-]+\\)-\\[0-9\\]\\+"\\} > 0\\)$`),
                );
                assert.ok(w.links?.some((l) => l.url === `README.md#${PITR_RUNBOOK.anchor}`));
            }
            const other = method === "plugin" ? "cnpg_collector_" : "barman_cloud_";
            assert.ok(!queries(r).some((q) => q.includes(other)), `${method} reads only its own metrics`);
        }
        // The coverage panel counts the PersistentVolumeClaimNotBackedUp alert's own expression where the alert exists (a
        // full-cluster schedule without snapshot classes leaves nothing to alert on: the panel's count is then always 0).
        let withRule = 0;
        for (const [what, r] of stacks) {
            const [pvc] = stats(drawn(r)).filter((p) => p.title === "PVCs without a backup");
            assert.ok(pvc, `${what}: a coverage panel`);
            assert.strictEqual(red(pvc), 1);
            assert.ok(linksTo(pvc, "PersistentVolumeClaimNotBackedUp"), `${what}: the coverage panel links the alert's runbook`);
            const rule = rules(r).find((x) => x.alert === "PersistentVolumeClaimNotBackedUp");
            if (rule) {
                withRule++;
                assert.strictEqual(query(pvc), `count(${rule.expr}) or vector(0)`, `${what}: the alert's expression`);
            } else
                assert.match(
                    query(pvc),
                    /^count\(max by \(namespace, persistentvolumeclaim, storageclass\) \(kube_persistentvolumeclaim_info /,
                );
        }
        assert.ok(withRule > 0, "a stack with the coverage alert");
    });

    it("links every panel to a README section that exists", () => {
        const anchors = readmeAnchors();
        const allowed = new Set([...Object.values(RUNBOOK_ANCHORS), PITR_RUNBOOK.anchor]);
        for (const [what, r] of stacks) {
            for (const p of stats(model(r))) {
                assert.ok((p.links ?? []).length > 0, `${what}: ${p.title} has no runbook link`);
                for (const l of p.links ?? []) {
                    const anchor = l.url.replace(/^README\.md#/, "");
                    assert.ok(allowed.has(anchor), `${what}: ${p.title} links ${l.url}`);
                    assert.ok(anchors.has(anchor), `README has no section #${anchor}`);
                }
            }
        }
    });

    it("lays the panels on Grafana's 24-column grid without overlap, each with a unique id, its variables defined", () => {
        for (const [what, r, raw] of stacks) {
            const m = model(r);
            const cells = new Set<string>();
            for (const p of m.panels) {
                assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${what}: ${p.title} ${JSON.stringify(p.gridPos)}`);
                for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
                    for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
                        assert.ok(!cells.has(`${x},${y}`), `${what}: ${p.title} overlaps at ${x},${y}`);
                        cells.add(`${x},${y}`);
                    }
                }
            }
            assert.strictEqual(new Set(m.panels.map((p) => p.id)).size, m.panels.length);
            // The data source, then per repeated row its variable (every database, all selected) and its namespaces (hidden).
            const clusters = (raw.postgres as { name: string; namespace: string }[]).map((c) => `${c.namespace}/${c.name} : ${c.name}`);
            const vars = m.templating.list;
            assert.deepStrictEqual(
                vars.slice(0, 3).map((v) => [v.type, v.name, v.type === "custom" ? customOptions(v.query).length : v.query]),
                [
                    ["datasource", "datasource", "prometheus"],
                    ["custom", "cluster", clusters.length],
                    [
                        "constant",
                        "cluster_namespaces",
                        [...new Set((raw.postgres as { namespace: string }[]).map((c) => c.namespace))].sort().join("|"),
                    ],
                ],
            );
            assert.deepStrictEqual(
                customOptions(vars[1].query)
                    .map((o) => `${o.text} : ${o.value}`)
                    .sort(),
                clusters.sort(),
            );
            for (const v of vars.filter((x) => x.type === "custom")) {
                assert.ok(v.multi && v.includeAll, `${what}: ${v.name} can show every database`);
                assert.deepStrictEqual((v as unknown as { current: unknown }).current, { text: ["All"], value: ["$__all"] });
            }
            assert.ok(vars.filter((x) => x.type === "constant").every((v) => v.hide === 2));
            // Each stat panel has one instant query, which dashboardQueries finds, and no variable the dashboard does not define.
            assert.strictEqual(dashboardQueries(m as unknown as Dashboard).length, stats(m).length);
            assert.strictEqual(queries(r).length, stats(drawn(r)).length);
            for (const q of queries(r)) assert.doesNotMatch(q, /\$/, `${what}: ${q}`);
            for (const p of drawn(r).panels) assert.doesNotMatch(p.title, /\$/, `${what}: ${p.title}`);
        }
    });

    it("follows backup:dashboard, and stands without the alerts", async () => {
        const custom = await render("baremetal", (raw) => {
            raw.dashboard = { namespace: "grafana", labels: { dashboards: "backup" }, folder: "Backups", uid: "backups-kenya" };
            raw.alerts = { enabled: false };
        });
        const cm = configMap(custom);
        assert.deepStrictEqual(cm.metadata, {
            name: "backup-platform-dashboard",
            namespace: "grafana",
            labels: { "app.kubernetes.io/part-of": "backup-platform", dashboards: "backup" },
            annotations: { grafana_folder: "Backups", ...owned("baremetal") },
        });
        assert.strictEqual(model(custom).uid, "backups-kenya");
        assert.strictEqual(custom.all(RULE).length, 0);
        assert.deepStrictEqual(queries(custom), queries(stacks[0][1]));
        assert.strictEqual((custom.outputs as { dashboard: string }).dashboard, "grafana/backup-platform-dashboard");

        const folderKey = await render(
            "baremetal",
            (raw) => (raw.dashboard = { folder: "Backups", folderAnnotation: "k8s-sidecar-target-directory" }),
        );
        assert.strictEqual(
            (configMap(folderKey).metadata as { annotations: Record<string, string> }).annotations["k8s-sidecar-target-directory"],
            "Backups",
        );

        const off = await render("baremetal", (raw) => (raw.dashboard = { enabled: false }));
        assert.strictEqual(off.all(CM).filter((c) => c.name === "backup-dashboard-configmap").length, 0);
        assert.strictEqual((off.outputs as { dashboard?: string }).dashboard, undefined);
    });
});
