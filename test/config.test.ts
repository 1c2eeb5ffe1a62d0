import * as assert from "assert";
import { parseConfig, parseConfigMap } from "../config";
import { clone, render, stackConfig, type Raw } from "./harness";
import { cronIntervalDays, enumeratedIntervalDays, retentionDays, runsEveryDay } from "../core/schedule";

describe("config", () => {
    const bm = stackConfig("baremetal");
    const aws = stackConfig("aws");

    it("parses both stack files and fills documented defaults", () => {
        const b = parseConfig(bm);
        assert.strictEqual(b.platform, "baremetal");
        assert.strictEqual(b.retention, "30d");
        assert.deepStrictEqual(
            b.postgres.map((d) => `${d.namespace}/${d.name}`),
            ["rciis-prod/esb-postgres", "rciis-prod/ss-postgres", "monitoring/grafana-postgres", "keycloak/keycloak-pg"],
        );
        assert.strictEqual(b.platform === "baremetal" && b.baremetal.objectStoreNamespace, "rook-ceph");
        assert.strictEqual(b.velero.serviceAccount, "velero-server");
        assert.deepStrictEqual(b.dataSafety, { retainOnDelete: true, protect: false });
        const a = parseConfig(aws);
        assert.strictEqual(a.platform === "aws" && a.aws.region, "af-south-1");
        assert.strictEqual(a.platform === "aws" && a.aws.encryption, "kms");
    });

    it("defaults retention to 30d and the CNPG schedule to six fields", () => {
        const raw = clone(bm);
        delete raw.retention;
        delete raw.cnpg;
        const c = parseConfig(raw);
        assert.strictEqual(c.retention, "30d");
        assert.strictEqual(c.cnpg.schedule, "0 0 2 * * *");
    });

    // The table of bad configurations lives in test/bad-configs.ts and runs through the real program (bad-config.test.ts).

    it("refuses keys of unknown namespaces and keeps the provider namespaces", () => {
        const map = (extra: Record<string, string>) => ({
            ...Object.fromEntries(Object.entries(bm).map(([k, v]) => [`backup:${k}`, typeof v === "string" ? v : JSON.stringify(v)])),
            ...extra,
        });
        assert.throws(() => parseConfigMap(map({ "bakup:retention": "30d" })), /bakup:retention: unknown config namespace "bakup"/);
        assert.throws(() => parseConfigMap(map({ "backup-platform:retention": "30d" })), /did you mean backup:retention/);
        const ok = parseConfigMap(
            map({
                "kubernetes:context": "rciis",
                "aws:region": "af-south-1",
                "pulumi:disable-default-providers": '["*"]',
                "random:x": "1",
            }),
        );
        assert.strictEqual(ok.platform, "baremetal");
    });

    it("accepts the endpoints, regions and names the rules allow", () => {
        const raw = clone(bm);
        const b = raw.baremetal as Raw;
        b.endpoint = "http://10.0.0.1:7480";
        b.mssqlEndpoint = "https://s3.rciis.africa:443/";
        b.region = "rciis_kenya.1";
        (raw.mssql as Raw[])[0].name = `R${"x".repeat(38)}`;
        (raw.mssql as Raw[])[0].restore = {
            file: "RCIIS_x_1of64.bak",
            replace: true,
            move: [{ logicalName: "RCIIS log.1", physicalPath: "/var/opt/x.ldf" }],
        };
        assert.doesNotThrow(() => parseConfig(raw));
        const a = clone(aws);
        a.retention = "3650d";
        a.cnpg = { recoveries: [{ from: "esb-postgres", name: "esb-r", targetTime: "2024-02-29T23:59:59+03:00", imageName: "x:1" }] };
        a.velero = { schedules: { yearly: { schedule: "0 2 * * *", ttl: "87600h" } } };
        assert.doesNotThrow(() => parseConfig(a));
        // Secret and StorageClass names are DNS-1123 subdomains: dots are allowed.
        const dotted = clone(bm);
        dotted.velero = { ...(dotted.velero as Raw), snapshotStorageClasses: ["ebs.csi-gp3", "ceph-rbd-single"] };
        (dotted.mssql as Raw[])[0].passwordSecret = { name: "mssql.admin" };
        assert.deepStrictEqual(parseConfig(dotted).velero.snapshotStorageClasses, ["ebs.csi-gp3", "ceph-rbd-single"]);
    });

    it("fails before any resource is registered, naming the key", async () => {
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.retention = "thirty")),
            (err: Error & { registered?: number }) => {
                assert.ok(err.message.includes("backup:retention") && err.message.includes("30d"), err.message);
                assert.strictEqual(err.registered, 0, "no resource may be registered before config is valid");
                return true;
            },
        );
    });

    it("derives durations conservatively", () => {
        assert.strictEqual(retentionDays("30d"), 30);
        assert.strictEqual(retentionDays("4w"), 28);
        assert.strictEqual(retentionDays("1m"), 31);
        assert.strictEqual(cronIntervalDays("0 0 2 * * *"), 1);
        assert.strictEqual(cronIntervalDays("0 3 * * 0"), 7);
        assert.strictEqual(cronIntervalDays("0 3 1 * *"), 31);
    });

    it("takes every-day schedules as one day without enumerating, as the enumeration says", () => {
        for (const expr of ["0 2 * * *", "0 0 2 * * *", "*/5 * * * *", "30 1,13 * * *", "0 0-23/6 * * *", " 15 4  *  *  * "]) {
            assert.ok(runsEveryDay(expr), expr);
            assert.strictEqual(enumeratedIntervalDays(expr), 1, expr);
        }
        for (const expr of ["0 3 * * 0", "0 3 1 * *", "0 3 * 2 *", "0 0 2 * * 1-5"]) assert.ok(!runsEveryDay(expr), expr);
    });

    it("derives the longest gap between runs from the schedule itself", () => {
        // The example stacks' schedules keep the numbers the old field-counting rule gave them.
        for (const [expr, days] of [
            ["0 2 * * *", 1],
            ["0 3 * * 0", 7],
            ["0 0 2 * * *", 1],
            ["0 6 * * *", 1],
            ["0 5 * * 0", 7],
        ] as const) {
            assert.strictEqual(cronIntervalDays(expr), days, expr);
        }
        assert.strictEqual(cronIntervalDays("*/5 * * * *"), 1);
        assert.strictEqual(cronIntervalDays("0 3 * * 1-5"), 3, "Friday to Monday");
        assert.strictEqual(cronIntervalDays("0 3 1,15 * *"), 17, "from the 15th to the 1st after a 31-day month");
        assert.strictEqual(cronIntervalDays("0 3 1 1,7 *"), 184, "1 July to 1 January");
        assert.strictEqual(cronIntervalDays("0 0 29 2 *"), 1461, "a leap day");
        assert.strictEqual(cronIntervalDays("0 0 3 1 */3 *"), 92, "quarterly, seconds first");
    });
});
