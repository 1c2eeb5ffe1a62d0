// Hostile values in every field that reaches SQL Server's scripts, given straight to the SQL builders
// (bypassing config, which refuses most of them first): each must be refused with a message naming
// the field, or stay inside its one literal or identifier, leaving the script's statements, lines and
// sqlcmd variables exactly as for a harmless value.
import * as assert from "assert";
import { parseConfig, type MssqlDatabase } from "../config";
import { backupSql, credentialSql, MssqlBackup, restoreSql } from "../components/mssql";
import { assertSqlSafe, SqlcmdVariable, sqlIdentifier, sqlString, TsqlError } from "../components/tsql";
import { record } from "../cli/recorder";
import { type BackupTarget } from "../core/targets";
import { render, stackConfig, type Raw } from "./harness";
import { sqlcmdCommands, sqlcmdVariables, statements, tokenize, type Token } from "./tsql-lexer";

const DROP = `x"}}'; DROP DATABASE RCIIS; --`;
/** One of each way out: a literal, an identifier, a batch, an sqlcmd variable, the string itself. */
const HOSTILE = [
    DROP,
    "x]; DROP DATABASE RCIIS; --",
    "x'); DROP DATABASE RCIIS; --",
    "$(S3_SECRET_KEY)",
    "$(BACKUP_STAMP)",
    "x\nGO\nDROP DATABASE RCIIS\nGO",
    "x\r\n:r /etc/passwd",
    "x\u2028GO",
    "x\u0000y",
    "x\ty",
    "x/*",
    "x--",
];
/** A harmless value every field accepts: where it lands, the hostile value must land instead. */
const MARK = "Benign0";

const baseDb: MssqlDatabase = parseConfig(stackConfig("baremetal")).mssql[0];
const baseTarget: BackupTarget = {
    consumer: "mssql",
    bucket: "mssql-backups",
    prefix: "mssql/rciis-prod/RCIIS",
    endpoint: "https://s3.rciis.africa",
    region: "rciis-kenya",
    forcePathStyle: true,
    credentials: {
        kind: "secret",
        namespace: "rciis-prod",
        secretName: "mssql-s3-credentials",
        keys: { accessKeyId: "A", secretAccessKey: "S" },
    },
    dependsOn: [],
};
const restore = (over: Partial<NonNullable<MssqlDatabase["restore"]>>): MssqlDatabase => ({
    ...baseDb,
    restore: {
        file: "RCIIS_20260217T030000Z.bak",
        targetDatabase: "RCIIS_copy",
        replace: false,
        move: [{ logicalName: "RCIIS", physicalPath: "/var/opt/mssql/data/RCIIS_copy.mdf" }],
        ...over,
    },
});

/** Replaces the hostile value (raw, or JSON-escaped inside BACKUP_OPTIONS) by MARK in literals and identifiers. */
function unmark(tokens: Token[], hostile: string): { tokens: Token[]; found: number } {
    const forms = [hostile, JSON.stringify(hostile).slice(1, -1)];
    let found = 0;
    const out = tokens.map((t) => {
        if (t.kind !== "string" && t.kind !== "ident") return t;
        let value = t.value;
        for (const f of forms) {
            found += value.split(f).length - 1;
            value = value.split(f).join(MARK);
        }
        return { ...t, value };
    });
    return { tokens: out, found };
}

/** Checks one hostile value: refused naming the field, or the harmless script with the value swapped inside. */
function checkOne(build: (v: string) => string, field: string, hostile: string, benign: string): void {
    const label = `${field} = ${JSON.stringify(hostile)}`;
    let sql: string;
    try {
        sql = build(hostile);
    } catch (err) {
        assert.ok(err instanceof TsqlError, `${label}: expected a TsqlError, got ${String(err)}`);
        assert.ok(err.message.includes(`SQL Server ${field} `), `${label}: the message must name the field: ${err.message}`);
        return;
    }
    // sqlcmd: no new line, batch separator, command or variable; no control character.
    assert.strictEqual(sql.split("\n").length, benign.split("\n").length, `${label}: line count\n${sql}`);
    assert.deepStrictEqual(sqlcmdCommands(sql), [], `${label}: sqlcmd commands\n${sql}`);
    assert.deepStrictEqual(sqlcmdVariables(sql), sqlcmdVariables(benign), `${label}: sqlcmd variables\n${sql}`);
    assert.ok(!/[^\P{Cc}\n]|[\p{Cs}\u2028\u2029]/u.test(sql), `${label}: control character in\n${JSON.stringify(sql)}`);
    // T-SQL: the same tokens, statements and comments (none), the value inside literals/identifiers only.
    let tokens: Token[];
    try {
        tokens = tokenize(sql);
    } catch (err) {
        assert.fail(`${label}: ${String(err)}\n${sql}`);
    }
    const { tokens: back, found } = unmark(tokens, hostile);
    assert.ok(found > 0, `${label}: the value is in no literal or identifier\n${sql}`);
    assert.deepStrictEqual(back, tokenize(benign), `${label}: statements differ\n${sql}`);
}

/** Every hostile value must be contained; lists each one that is not. */
function assertContained(build: (v: string) => string, field: string): void {
    const benign = build(MARK);
    assert.strictEqual(statements(tokenize(benign)).length >= 1, true);
    const escaped: string[] = [];
    for (const hostile of HOSTILE) {
        try {
            checkOne(build, field, hostile, benign);
        } catch (err) {
            escaped.push(String(err instanceof Error ? err.message : err).split("\n")[0]);
        }
    }
    assert.deepStrictEqual(escaped, []);
}

describe("sql server scripts under hostile values", () => {
    it("credentialSql: credentialName", () => {
        assertContained((v) => credentialSql({ ...baseDb, credentialName: v }), "credentialName");
    });

    it("backupSql: database name", () => {
        assertContained((v) => backupSql(baseTarget, { ...baseDb, name: v }), "database name");
    });

    it("backupSql: credentialName", () => {
        assertContained((v) => backupSql(baseTarget, { ...baseDb, credentialName: v }), "credentialName");
    });

    it("backupSql: region, inside the BACKUP_OPTIONS JSON", () => {
        assertContained((v) => backupSql({ ...baseTarget, region: v }, baseDb), "region");
        // Still JSON, with the region as given.
        const sql = backupSql({ ...baseTarget, region: DROP }, baseDb);
        const options = tokenize(sql).filter((t) => t.kind === "string");
        assert.deepStrictEqual(JSON.parse(options[options.length - 1].value), { s3: { region: DROP } });
    });

    it("backupSql and restoreSql: AWS region, inside the endpoint host and BACKUP_OPTIONS", () => {
        assertContained((v) => backupSql({ ...baseTarget, endpoint: undefined, region: v }, baseDb), "region");
        assertContained((v) => restoreSql({ ...baseTarget, endpoint: undefined, region: v }, restore({})), "region");
    });

    it("backupSql and restoreSql: endpoint host", () => {
        assertContained((v) => backupSql({ ...baseTarget, endpoint: `https://${v}` }, baseDb), "endpoint host");
        assertContained((v) => restoreSql({ ...baseTarget, endpoint: `https://${v}` }, restore({})), "endpoint host");
    });

    it("backupSql and restoreSql: bucket", () => {
        assertContained((v) => backupSql({ ...baseTarget, bucket: v }, baseDb), "bucket");
        assertContained((v) => restoreSql({ ...baseTarget, bucket: v }, restore({})), "bucket");
    });

    it("backupSql and restoreSql: prefix", () => {
        assertContained((v) => backupSql({ ...baseTarget, prefix: v }, baseDb), "prefix");
        assertContained((v) => restoreSql({ ...baseTarget, prefix: v }, restore({})), "prefix");
    });

    it("restoreSql: targetDatabase, and the database name it defaults to", () => {
        assertContained((v) => restoreSql(baseTarget, restore({ targetDatabase: v })), "restore target database");
        assertContained(
            (v) =>
                restoreSql(baseTarget, {
                    ...restore({ replace: true }),
                    name: v,
                    restore: { ...restore({}).restore!, targetDatabase: undefined },
                }),
            "restore target database",
        );
    });

    it("restoreSql: credentialName", () => {
        assertContained((v) => restoreSql(baseTarget, { ...restore({}), credentialName: v }), "credentialName");
    });

    it("restoreSql: restore.file", () => {
        assertContained((v) => restoreSql(baseTarget, restore({ file: v })), "restore.file");
    });

    it("restoreSql: move logicalName and physicalPath", () => {
        assertContained(
            (v) => restoreSql(baseTarget, restore({ move: [{ logicalName: v, physicalPath: "/var/opt/mssql/data/x.mdf" }] })),
            "restore.move logicalName",
        );
        assertContained(
            (v) => restoreSql(baseTarget, restore({ move: [{ logicalName: "RCIIS", physicalPath: v }] })),
            "restore.move physicalPath",
        );
    });

    it("restoreSql: a striped file names 1 to 64 stripes, refused beyond before any array is built", () => {
        const urls = (file: string) =>
            tokenize(restoreSql(baseTarget, restore({ file }))).filter((t) => t.kind === "string" && t.value.startsWith("s3://"));
        assert.strictEqual(urls("RCIIS_x_1of64.bak").length, 64);
        assert.strictEqual(urls("RCIIS_x_1of1.bak").length, 1);
        for (const file of ["RCIIS_x_1of65.bak", "RCIIS_x_1of0.bak", "RCIIS_x_1of4294967296.bak", `RCIIS_x_1of${"9".repeat(400)}.bak`]) {
            assert.throws(
                () => restoreSql(baseTarget, restore({ file })),
                /SQL Server restore\.file .*BACKUP TO URL takes 1 to 64 URLs/,
                file,
            );
        }
    });

    it("backupSql: 1 to 64 stripes, refused beyond before any array is built", () => {
        const urls = (stripes: number) =>
            tokenize(backupSql(baseTarget, { ...baseDb, stripes })).filter((t) => t.kind === "string" && t.value.startsWith("s3://"));
        assert.strictEqual(urls(64).length, 64);
        for (const stripes of [0, 65, 4294967296, 1.5, Number.NaN]) {
            assert.throws(
                () => backupSql(baseTarget, { ...baseDb, stripes }),
                /SQL Server database RCIIS: .* stripes, but BACKUP TO URL takes 1 to 64 URLs/,
                String(stripes),
            );
        }
    });
});

describe("T-SQL quoting (components/tsql.ts)", () => {
    it("doubles quotes in literals and brackets in identifiers", () => {
        assert.strictEqual(sqlString("it's", "x"), "N'it''s'");
        assert.strictEqual(sqlString("", "x"), "N''");
        assert.strictEqual(sqlIdentifier("a]b[c", "x"), "[a]]b[c]");
        assert.strictEqual(sqlIdentifier("a".repeat(128), "x").length, 130);
        assert.throws(() => sqlIdentifier("a".repeat(129), "x"), /SQL Server x .* must be 1 to 128 characters/);
        assert.throws(() => sqlIdentifier("", "x"), /must be 1 to 128 characters/);
    });

    it("emits only the program's own sqlcmd variables, and no $( made of two pieces", () => {
        const v = SqlcmdVariable.of("BACKUP_STAMP");
        assert.strictEqual(sqlString(["a'", v, ".bak"], "url"), "N'a''$(BACKUP_STAMP).bak'");
        assert.throws(() => sqlString(["a$", "(x)"], "url"), /SQL Server url "a\$\(x\)" contains "\$\("/);
        // Something shaped like a variable but not made by SqlcmdVariable.of (say, parsed from config) is refused.
        const forged = { name: "S3_SECRET_KEY", toString: () => "$(S3_SECRET_KEY)" } as unknown as SqlcmdVariable;
        assert.throws(() => sqlString([forged], "url"), /SQL Server url must be text/);
        assert.throws(() => SqlcmdVariable.of("X) + (Y"), /not a sqlcmd variable name/);
    });

    it("refuses control characters, line breaks and $( with the field and value in the message", () => {
        assert.strictEqual(assertSqlSafe("rciis-kenya", "region"), "rciis-kenya");
        assert.throws(() => assertSqlSafe("a\nGO", "region"), /SQL Server region "a\\nGO" contains a control character or line break/);
        assert.throws(() => assertSqlSafe("a\u0000", "region"), /control character/);
        assert.throws(() => assertSqlSafe("\ud800", "region"), /control character/);
        assert.throws(() => assertSqlSafe("$(S3_SECRET_KEY)", "region"), /SQL Server region "\$\(S3_SECRET_KEY\)" contains "\$\("/);
    });
});

describe("sql server scripts rendered through the program", () => {
    const region = (value: string) => (raw: Raw) => Object.assign(raw.baremetal as Raw, { region: value });

    it("a region written to drop the database is refused by config, or stays inside BACKUP_OPTIONS", async () => {
        let sql: string;
        try {
            const r = await render("baremetal", region(DROP));
            sql = (r.get("kubernetes:core/v1:ConfigMap", "mssql-rciis-prod-RCIIS-scripts").inputs.data as Record<string, string>)[
                "backup.sql"
            ];
        } catch (err) {
            assert.match(String(err), /backup:baremetal\.region/);
            return;
        }
        assert.deepStrictEqual(sqlcmdCommands(sql), []);
        assert.deepStrictEqual(sqlcmdVariables(sql), ["$(BACKUP_STAMP)"]);
        const stmts = statements(tokenize(sql));
        assert.strictEqual(stmts.length, 1, sql);
        assert.deepStrictEqual(
            stmts[0].slice(0, 3).map((t) => t.value),
            ["BACKUP", "DATABASE", "RCIIS"],
        );
        const literals = stmts[0].filter((t) => t.kind === "string");
        assert.deepStrictEqual(JSON.parse(literals[literals.length - 1].value), { s3: { region: DROP } });
    });

    it("a region that names an sqlcmd variable (the secret key) is refused before anything runs", async () => {
        await assert.rejects(() => render("baremetal", region("$(S3_SECRET_KEY)")), /region/);
    });

    it("the component throws before registering anything, itself included", async () => {
        let thrown: unknown;
        const { resources } = await record(
            () => {
                try {
                    new MssqlBackup("m", { database: baseDb, target: { ...baseTarget, region: "$(S3_SECRET_KEY)" } });
                } catch (err) {
                    thrown = err;
                }
                return Promise.resolve({});
            },
            { stack: "baremetal", config: {} },
        );
        assert.ok(thrown instanceof TsqlError, String(thrown));
        assert.match(thrown.message, /SQL Server region "\$\(S3_SECRET_KEY\)" contains "\$\("/);
        assert.deepStrictEqual(
            resources.map((r) => r.type),
            [],
        );
    });
});
