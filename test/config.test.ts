import * as assert from "assert";
import { ConfigError, cronIntervalDays, parseConfig, retentionDays } from "../config";
import { clone, render, stackConfig, type Raw } from "./harness";

function expectError(raw: Raw, ...fragments: string[]): void {
    assert.throws(
        () => parseConfig(raw),
        (err: unknown) => {
            assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
            for (const f of fragments) assert.ok(err.message.includes(f), `message lacks ${JSON.stringify(f)}:\n${err.message}`);
            return true;
        },
    );
}

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

    const bad: [string, (r: Raw) => void, string[]][] = [
        ["unknown platform", (r) => (r.platform = "gcp"), ["backup:platform", "aws, baremetal"]],
        ["bad namespace", (r) => ((r.postgres as Raw[])[0].namespace = "RCIIS_Prod"), ["backup:postgres[0].namespace", "DNS-1123"]],
        [
            "bad bucket name",
            (r) => ((r.baremetal as { buckets: Raw }).buckets.cnpg = "CNPG_backups"),
            ["backup:baremetal.buckets.cnpg", "3-63 characters"],
        ],
        ["missing region", (r) => delete (r.baremetal as Raw).region, ["backup:baremetal.region", "required"]],
        ["retention unlike 30d", (r) => (r.retention = "30 days"), ["backup:retention", "30d, 4w or 1m"]],
        [
            "duplicate database names",
            (r) => ((r.postgres as Raw[])[1].name = "esb-postgres"),
            ["backup:postgres[1].name", "duplicate", "esb-postgres"],
        ],
        [
            "http endpoint for SQL Server",
            (r) => ((r.baremetal as Raw).mssqlEndpoint = "http://s3.rciis.africa"),
            ["backup:baremetal.mssqlEndpoint", "https"],
        ],
        ["five-field CNPG cron", (r) => (r.cnpg = { schedule: "0 2 * * *" }), ["backup:cnpg.schedule", "six", "seconds", "0 0 2 * * *"]],
        ["unknown CNPG method", (r) => (r.cnpg = { method: "pgdump" }), ["backup:cnpg.method", "barmanObjectStore, plugin"]],
        ["unknown top-level key", (r) => (r.retension = "30d"), ["retension", "allowed keys", "retention"]],
        ["aws section on bare metal", (r) => (r.aws = {}), ["unknown key(s) aws"]],
        ["endpoint with a path", (r) => ((r.baremetal as Raw).endpoint = "http://rgw/x/y"), ["backup:baremetal.endpoint", "no path"]],
        ["no application namespaces", (r) => (r.namespaces = []), ["backup:namespaces", "at least one"]],
    ];
    for (const [what, edit, fragments] of bad) {
        it(`rejects ${what}`, () => {
            const raw = clone(bm);
            edit(raw);
            expectError(raw, ...fragments);
        });
    }

    it("rejects shared buckets on AWS and a bad region", () => {
        const raw = clone(aws);
        (raw.aws as { buckets: Raw }).buckets.mssql = "rciis-cnpg-backups";
        expectError(raw, "backup:aws.buckets", "own bucket");
        const r2 = clone(aws);
        (r2.aws as Raw).region = "africa";
        expectError(r2, "backup:aws.region", "af-south-1");
    });

    it("rejects an EKS section that is neither a cluster name nor an OIDC pair", () => {
        const raw = clone(aws);
        (raw.aws as Raw).eks = { oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/x" };
        assert.throws(() => parseConfig(raw), /backup:aws\.eks/);
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
});
