import * as assert from "assert";
import { RUNBOOK_ANCHORS, type AlertName, type AlertRule } from "../components/alerts";
import { CONFIGMAP_MAX_BYTES, dashboardQueries, PITR_RUNBOOK } from "../components/dashboard";
import { type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { owned, readmeAnchors, render, type Raw, type Rendered } from "./harness";
import { maxAgeSeconds } from "../core/schedule";

const CM = "kubernetes:core/v1:ConfigMap";
const RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule";
const GRACE = 3;

interface Panel {
    id: number;
    type: string;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string }[];
    links?: { url: string }[];
    fieldConfig?: { defaults: { thresholds?: { steps: { value: number | null; color: string }[] } } };
}
interface Model {
    uid: string;
    panels: Panel[];
    templating: { list: { type: string; name: string; query: string }[] };
}

const configMap = (r: Rendered) => r.get(CM, "backup-dashboard-configmap").inputs;
const model = (r: Rendered): Model => JSON.parse(Object.values(configMap(r).data as Record<string, string>)[0]) as Model;
/** The same JSON, as the SDK types it. */
const queries = (r: Rendered) => dashboardQueries(model(r) as unknown as Dashboard);
const stats = (m: Model) => m.panels.filter((p) => p.type !== "row");
const rules = (r: Rendered): AlertRule[] =>
    (r.get(RULE, "backup-alerts-rules").inputs.spec as { groups: { rules: AlertRule[] }[] }).groups[0].rules;
/** Where a panel turns red, if it does. */
const red = (p: Panel) => p.fieldConfig?.defaults.thresholds?.steps.find((s) => s.color === "red")?.value;
const query = (p: Panel) => (p.targets ?? []).map((t) => t.expr).join("\n");
const linksTo = (p: Panel, alert: AlertName) => (p.links ?? []).some((l) => l.url === `README.md#${RUNBOOK_ANCHORS[alert]}`);

/**
 * The subjects of an alert rule, each with the selector its series carry and the threshold of its expression: a Velero
 * schedule, a CronJob, or (for the CNPG rules, one rule per method) each cluster of the stack's config.
 */
function subjects(rule: AlertRule, raw: Raw): { selector: string; limit?: number }[] {
    const number = (re: RegExp) => {
        const m = re.exec(rule.expr);
        return m ? Number(m[1]) : undefined;
    };
    const velero = /velero_backup_last_successful_timestamp(\{schedule="[^"]+"\})/.exec(rule.expr);
    if (velero) return [{ selector: velero[1], limit: number(/> (\d+)$/) }];
    const cronJob = /(\{namespace="[^"]+",cronjob="[^"]+"\})/.exec(rule.expr);
    if (cronJob) return [{ selector: cronJob[1], limit: number(/> (\d+)\)/) }];
    if (rule.alert.startsWith("CNPG")) {
        return (raw.postgres as { name: string; namespace: string }[]).map((c) => {
            assert.ok(rule.expr.includes(c.name) && rule.expr.includes(c.namespace), `${rule.alert} does not watch ${c.name}`);
            return { selector: `{namespace=~"${c.namespace}",pod=~"(${c.name})-[0-9]+"}`, limit: number(/> (\d+), "cluster"/) };
        });
    }
    // Velero as a whole (failures, storage location): the panel shows the alert's own expression.
    return [{ selector: rule.expr }];
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
            console.log(`      ${what}: ${bytes} bytes, ${stats(model(r)).length} panels`);
            assert.ok(bytes < 256 * 1024, `${what}: ${bytes} bytes`);
            assert.strictEqual(model(r).uid, "backup-platform");
        }
    });

    it("fits 100 databases in its ConfigMap, and refuses a fleet it cannot fit before registering anything", async function () {
        this.timeout(60_000);
        const fleet = (n: number) => (raw: Raw) => {
            const namespaces = Array.from({ length: Math.ceil(n / 2) }, (_, i) => `team-${i}`);
            raw.namespaces = namespaces;
            raw.postgres = Array.from({ length: n }, (_, i) => ({ name: `db-${i}`, namespace: namespaces[i % namespaces.length] }));
        };
        const hundred = await render("baremetal", fleet(100));
        const bytes = Buffer.byteLength((configMap(hundred).data as Record<string, string>)["backup-platform-dashboard.json"]);
        assert.ok(bytes < CONFIGMAP_MAX_BYTES && bytes > 0.5 * CONFIGMAP_MAX_BYTES, `100 databases: ${bytes} bytes`);
        await assert.rejects(
            render("baremetal", fleet(200)),
            /backup:dashboard\.enabled: the dashboard for 200 PostgreSQL clusters and 1 SQL Server databases is \d+ KiB, over a ConfigMap's 1024 KiB; set backup:dashboard\.enabled to false/,
        );
        const off = await render("baremetal", (raw) => {
            fleet(200)(raw);
            raw.dashboard = { enabled: false };
        });
        assert.ok(off.resources.length > 200 && !off.resources.some((r) => r.name === "backup-dashboard-configmap"));
    });

    it("gives every subject of every alert a panel that selects it, red from the alert's own threshold", () => {
        const everyAlert = new Set<string>();
        for (const [what, r, raw] of stacks) {
            const panels = stats(model(r));
            const emitted = rules(r);
            for (const rule of emitted) {
                for (const subject of subjects(rule, raw)) {
                    const mine = panels.filter((p) => linksTo(p, rule.alert) && query(p).includes(subject.selector));
                    assert.ok(mine.length > 0, `${what}: no panel for ${rule.alert} ${subject.selector}`);
                    const coloured = mine.filter((p) => red(p) !== undefined);
                    assert.strictEqual(
                        coloured.length,
                        1,
                        `${what}: ${rule.alert} ${subject.selector} has ${coloured.length} red/green panels`,
                    );
                    assert.strictEqual(red(coloured[0]), subject.limit ?? 1, `${what}: ${rule.alert} ${subject.selector}`);
                }
            }
            for (const x of emitted) everyAlert.add(x.alert);
        }
        // And the stacks together render every alert there is (Velero, CNPG, SQL Server, off-site, drills, coverage).
        assert.deepStrictEqual([...everyAlert].sort(), Object.keys(RUNBOOK_ANCHORS).sort());
    });

    it("takes each age threshold from the schedule and the grace, as maxAgeSeconds does", () => {
        const [, r, raw] = stacks[2];
        const panels = stats(model(r));
        const threshold = (title: string) => {
            const found = panels.filter((p) => p.title === title);
            assert.strictEqual(found.length, 1, `${title}: ${found.length} panels`);
            return red(found[0]);
        };
        assert.strictEqual(threshold("daily-namespaces: since last success"), maxAgeSeconds("0 2 * * *", GRACE));
        assert.strictEqual(threshold("weekly-full: since last success"), maxAgeSeconds("0 3 * * 0", GRACE));
        const ageOf = (selector: string) => panels.filter((p) => query(p).includes(selector) && red(p) !== undefined).map(red);
        assert.deepStrictEqual(ageOf(`cronjob="audit-mssql-backup"`), [maxAgeSeconds("0 4 * * 0", GRACE)]);
        assert.deepStrictEqual(ageOf(`cronjob="rciis-mssql-backup"`), [maxAgeSeconds("0 3 * * *", GRACE)]);
        const cnpgAges = panels.filter((p) => p.title === "Base backup: since last").map(red);
        assert.deepStrictEqual(
            cnpgAges,
            (raw.postgres as unknown[]).map(() => maxAgeSeconds("0 0 2 * * 0", GRACE)),
        );
        assert.strictEqual(cnpgAges[0], 7 * 24 * 3600 + GRACE * 3600);
        assert.strictEqual(threshold("Drill keycloak/keycloak-pg-drill: since last success"), maxAgeSeconds("0 5 * * 0", GRACE));
        assert.strictEqual(threshold("Copy backup-offsite/offsite-copy: since last success"), maxAgeSeconds("0 6 * * *", GRACE));

        const graced = stacks.find(([w]) => w === "baremetal")?.[1];
        assert.ok(graced);
        assert.strictEqual(
            stats(model(graced)).find((p) => p.title === "daily-namespaces: since last success")?.fieldConfig?.defaults.thresholds?.steps[1]
                .value,
            27 * 3600,
        );
    });

    it("has one row per backup path", () => {
        const [, r] = stacks[2];
        const rows = model(r)
            .panels.filter((p) => p.type === "row")
            .map((p) => p.title);
        assert.deepStrictEqual(rows, [
            "Coverage",
            "Velero",
            "PostgreSQL keycloak/keycloak-pg",
            "PostgreSQL monitoring/grafana-postgres",
            "PostgreSQL rciis-prod/esb-postgres",
            "PostgreSQL rciis-prod/ss-postgres",
            "SQL Server keycloak/audit-mssql-backup",
            "SQL Server rciis-prod/rciis-mssql-backup",
            "Off-site copy",
            "Restore drills",
        ]);
        const aws = stacks.find(([w]) => w === "aws")?.[1];
        assert.ok(aws);
        const awsRows = model(aws).panels.filter((p) => p.type === "row");
        assert.ok(!awsRows.some((p) => p.title === "Off-site copy" || p.title === "Restore drills"), "nothing to show where nothing runs");
    });

    it("shows the recovery window from the configured method's metric, and the uncovered PVCs", () => {
        for (const [method, metric] of [
            ["plugin", "barman_cloud_cloudnative_pg_io_first_recoverability_point"],
            ["in-tree", "cnpg_collector_first_recoverability_point"],
        ]) {
            const [, r] = stacks.find(([w]) => w === `everything, ${method}`) ?? [];
            assert.ok(r);
            const windows = stats(model(r)).filter((p) => p.title === "Recovery window");
            assert.strictEqual(windows.length, 4);
            for (const w of windows) {
                assert.match(
                    query(w),
                    new RegExp(`^time\\(\\) - min\\(${metric}\\{namespace=~"[a-z-]+",pod=~"\\([a-z-]+\\)-\\[0-9\\]\\+"\\} > 0\\)$`),
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
            const [pvc] = stats(model(r)).filter((p) => p.title === "PVCs without a backup");
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

    it("lays the panels on Grafana's 24-column grid without overlap, each with a unique id", () => {
        for (const [what, r] of stacks) {
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
            assert.deepStrictEqual(
                m.templating.list.map((v) => [v.type, v.name, v.query]),
                [["datasource", "datasource", "prometheus"]],
            );
            // Each stat panel has one instant query, which dashboardQueries finds.
            assert.strictEqual(queries(r).length, stats(m).length);
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
