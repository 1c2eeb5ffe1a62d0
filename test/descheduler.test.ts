import * as assert from "assert";
import { chartValues, render, type Raw } from "./harness";

type Obj = Record<string, unknown>;
const evictor = (v: Obj) =>
    (
        (v.deschedulerPolicy as { profiles: { pluginConfig: { name: string; args: Obj }[] }[] }).profiles[0].pluginConfig.find(
            (p) => p.name === "DefaultEvictor",
        ) as { args: Obj }
    ).args;

describe("descheduler", () => {
    it("bare metal: the seeds' base, 3 replicas with leader election, in kube-system from the pinned chart", async () => {
        const r = await render("baremetal");
        const chart = r.get("kubernetes:helm.sh/v4:Chart", "descheduler").inputs;
        assert.deepStrictEqual([chart.chart, chart.version, chart.namespace], ["descheduler", "0.34.0", "kube-system"]);
        assert.deepStrictEqual(chart.repositoryOpts, { repo: "https://kubernetes-sigs.github.io/descheduler" });
        const v = chartValues(r, "descheduler");
        assert.deepStrictEqual([v.kind, v.replicas, v.leaderElection, v.deschedulingInterval], ["Deployment", 3, { enabled: true }, "5m"]);
        const profile = (v.deschedulerPolicy as { profiles: Obj[] }).profiles[0];
        assert.deepStrictEqual(profile.plugins, {
            balance: { enabled: ["LowNodeUtilization", "RemovePodsViolatingTopologySpreadConstraint"] },
        });
        const low = (profile.pluginConfig as { name: string; args: Obj }[]).find((p) => p.name === "LowNodeUtilization");
        assert.deepStrictEqual(low?.args, {
            useDeviationThresholds: true,
            thresholds: { cpu: 10, memory: 10, pods: 10 },
            targetThresholds: { cpu: 20, memory: 20, pods: 20 },
        });
    });

    it("AWS: one replica with reduced resources", async () => {
        const v = chartValues(await render("aws"), "descheduler");
        assert.strictEqual(v.replicas, 1);
        assert.deepStrictEqual(v.resources, { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } });
    });

    it("never evicts database pods: CNPG instances and SQL Server are outside the evictor's selector", async () => {
        const args = evictor(chartValues(await render("baremetal"), "descheduler"));
        assert.deepStrictEqual(args.labelSelector, {
            matchExpressions: [
                { key: "cnpg.io/cluster", operator: "DoesNotExist" },
                { key: "app.kubernetes.io/name", operator: "NotIn", values: ["mssql"] },
            ],
        });
        assert.strictEqual(args.nodeFit, true);
        for (const deprecated of ["evictLocalStoragePods", "evictSystemCriticalPods"]) assert.ok(!(deprecated in args), deprecated);
    });

    it("passes podProtections or the deprecated flags, never both", async () => {
        const prot = evictor(
            chartValues(
                await render("baremetal", (raw) => ((raw.descheduler = { podProtections: { extraEnabled: ["PodsWithPVC"] } }), undefined)),
                "descheduler",
            ),
        );
        assert.deepStrictEqual(prot.podProtections, { extraEnabled: ["PodsWithPVC"], defaultDisabled: [] });
        const flags = evictor(
            chartValues(
                await render("baremetal", (raw) => (raw.descheduler = { evictorFlags: { evictLocalStoragePods: false } })),
                "descheduler",
            ),
        );
        assert.strictEqual(flags.evictLocalStoragePods, false);
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.descheduler = { podProtections: {}, evictorFlags: { evictLocalStoragePods: false } })),
            /backup:descheduler\.evictorFlags: cannot be combined with backup:descheduler\.podProtections/,
        );
    });

    it("refuses several replicas without leader election", async () => {
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.descheduler = { replicas: 3, leaderElection: false } as Raw)),
            /backup:descheduler\.leaderElection: must be true when backup:descheduler\.replicas is 3/,
        );
        const single = chartValues(
            await render("aws", (raw) => Object.assign(raw.descheduler as Raw, { leaderElection: false })),
            "descheduler",
        );
        assert.deepStrictEqual([single.replicas, single.leaderElection], [1, { enabled: false }]);
    });

    it("can be switched off", async () => {
        const r = await render("baremetal", (raw) => (raw.descheduler = { enabled: false }));
        assert.strictEqual(r.all("kubernetes:helm.sh/v4:Chart").filter((c) => c.name === "descheduler").length, 0);
    });
});
