import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { assertSqlServerSafe } from "../stacks/credentials";
import { owned, render, type Raw, type Rendered } from "./harness";

type Obj = Record<string, unknown>;
const CRON = "kubernetes:batch/v1:CronJob";
const CM = "kubernetes:core/v1:ConfigMap";
const JOB = "kubernetes:batch/v1:Job";
const NAME = "mssql-rciis-prod-RCIIS";

interface Container {
    image: string;
    command: string[];
    args?: string[];
    env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    resources: Obj;
    securityContext: Obj;
}
interface PodSpec {
    restartPolicy: string;
    securityContext: Obj;
    containers: Container[];
}
const cron = (r: Rendered) =>
    r.get(CRON, `${NAME}-backup`).inputs as { metadata: Obj; spec: Obj & { jobTemplate: { spec: Obj & { template: { spec: PodSpec } } } } };
const scripts = (r: Rendered) => r.get(CM, `${NAME}-scripts`).inputs.data as Record<string, string>;

describe("sql server backups", () => {
    let bm: Rendered;
    let aws: Rendered;
    before(async () => {
        bm = await render("baremetal", undefined, true);
        aws = await render("aws", undefined, true);
    });

    it("keeps the seed's job policies: 03:00, Forbid, history 3/3, 3 retries, cleaned after an hour", () => {
        const c = cron(bm);
        assert.deepStrictEqual(c.metadata, {
            name: "rciis-mssql-backup",
            namespace: "rciis-prod",
            labels: {
                "app.kubernetes.io/name": "mssql-backup",
                "app.kubernetes.io/part-of": "backup-platform",
                "backup.platform/database": "RCIIS",
            },
            annotations: owned("baremetal"),
        });
        const s = c.spec;
        assert.deepStrictEqual(
            [s.schedule, s.timeZone, s.concurrencyPolicy, s.successfulJobsHistoryLimit, s.failedJobsHistoryLimit],
            ["0 3 * * *", "Etc/UTC", "Forbid", 3, 3],
        );
        assert.deepStrictEqual([s.jobTemplate.spec.backoffLimit, s.jobTemplate.spec.ttlSecondsAfterFinished], [3, 3600]);
        const [container] = s.jobTemplate.spec.template.spec.containers;
        assert.deepStrictEqual(container.resources, {
            requests: { cpu: "100m", memory: "128Mi" },
            limits: { cpu: "500m", memory: "512Mi" },
        });
    });

    it("runs a pinned image as non-root with a read-only root filesystem", () => {
        const pod = cron(bm).spec.jobTemplate.spec.template.spec;
        assert.strictEqual(pod.containers[0].image, "mcr.microsoft.com/mssql/server:2022-CU20-GDR2-ubuntu-22.04");
        assert.deepStrictEqual(pod.securityContext, {
            runAsNonRoot: true,
            runAsUser: 10001,
            runAsGroup: 10001,
            seccompProfile: { type: "RuntimeDefault" },
        });
        assert.deepStrictEqual(pod.containers[0].securityContext, {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        });
    });

    it("puts no password or key on a command line or in the scripts: they come from Secrets via the environment", () => {
        for (const r of [bm, aws]) {
            const [container] = cron(r).spec.jobTemplate.spec.template.spec.containers;
            assert.deepStrictEqual(container.command, ["/bin/bash", "/scripts/backup.sh"]);
            assert.strictEqual(container.args, undefined);
            const env = Object.fromEntries(container.env.map((e) => [e.name, e]));
            assert.deepStrictEqual(env.SQLCMDPASSWORD.valueFrom, { secretKeyRef: { name: "mssql-admin", key: "MSSQL_SA_PASSWORD" } });
            assert.deepStrictEqual(env.S3_ACCESS_KEY.valueFrom, {
                secretKeyRef: { name: "mssql-s3-credentials", key: "AWS_ACCESS_KEY_ID" },
            });
            assert.deepStrictEqual(env.S3_SECRET_KEY.valueFrom, {
                secretKeyRef: { name: "mssql-s3-credentials", key: "AWS_SECRET_ACCESS_KEY" },
            });
            const everything = JSON.stringify([container, scripts(r)]);
            assert.ok(!/ -P\b/.test(everything), "sqlcmd -P must never be used");
            // The revealed key values (mock-derived) must not appear in the CronJob or its scripts.
            for (const secret of ["backupmssqlaccesskey", "backupmssqlsecretkey", "mock-secret-access-key", "AKIAMOCKRENDER"])
                assert.ok(!everything.includes(secret), secret);
        }
        assert.ok(scripts(bm)["credential.sql"].includes("SECRET = N'$(S3_ACCESS_KEY):$(S3_SECRET_KEY)'"));
    });

    it("backs up with FORMAT, COMPRESSION, CHECKSUM and the region, to a timestamped object in the mssql target", () => {
        assert.strictEqual(
            scripts(bm)["backup.sql"],
            [
                "BACKUP DATABASE [RCIIS]",
                "TO URL = N's3://s3.rciis.africa/mssql-backups/mssql/rciis-prod/RCIIS/RCIIS_$(BACKUP_STAMP).bak'",
                "WITH CREDENTIAL = N's3_backup_credential', FORMAT, COMPRESSION, CHECKSUM, STATS = 10,",
                "     MAXTRANSFERSIZE = 20971520,",
                `     BACKUP_OPTIONS = N'{"s3":{"region":"rciis-kenya"}}';`,
                "",
            ].join("\n"),
        );
        assert.ok(
            scripts(aws)["backup.sql"].includes(
                "TO URL = N's3://s3.af-south-1.amazonaws.com/rciis-aws-mssql-backups/mssql/rciis-prod/RCIIS/RCIIS_$(BACKUP_STAMP).bak'",
            ),
        );
        assert.ok(scripts(aws)["backup.sql"].includes(`BACKUP_OPTIONS = N'{"s3":{"region":"af-south-1"}}';`));
    });

    it("stripes large databases over several URLs", async () => {
        const r = await render("baremetal", (raw) => Object.assign((raw.mssql as Raw[])[0], { stripes: 3 }));
        const sql = scripts(r)["backup.sql"];
        for (let i = 1; i <= 3; i++) assert.ok(sql.includes(`RCIIS_$(BACKUP_STAMP)_${i}of3.bak'`), sql);
    });

    it("the job script waits for the server, then creates the credential and backs up, with secrets only in the environment", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mssql-job-"));
        const data = scripts(bm);
        for (const [file, text] of Object.entries(data)) fs.writeFileSync(path.join(dir, file), text);
        // A stand-in sqlcmd: records argv and the environment it sees; refuses the first SELECT 1.
        const log = path.join(dir, "calls.log");
        fs.writeFileSync(
            path.join(dir, "sqlcmd"),
            `#!/bin/bash\ncount=$(cat "${dir}/n" 2>/dev/null || echo 0); echo $((count+1)) > "${dir}/n"\n` +
                `echo "ARGV $*" >> "${log}"; echo "ENV pw=$SQLCMDPASSWORD ak=$S3_ACCESS_KEY stamp=\${BACKUP_STAMP:-}" >> "${log}"\n` +
                `[ "$count" = "0" ] && exit 1; exit 0\n`,
            { mode: 0o755 },
        );
        const res = spawnSync("bash", [path.join(dir, "backup.sh")], {
            encoding: "utf8",
            env: {
                PATH: process.env.PATH,
                SQLCMD: path.join(dir, "sqlcmd"),
                SCRIPTS: dir,
                POLL_SECONDS: "0",
                MSSQL_HOST: "mssql",
                MSSQL_PORT: "1433",
                MSSQL_USER: "sa",
                DATABASE: "RCIIS",
                TRUST_SERVER_CERTIFICATE: "true",
                WAIT_SECONDS: "60",
                SQLCMDPASSWORD: "pw-Secret-1",
                S3_ACCESS_KEY: "AK123",
                S3_SECRET_KEY: "SK456",
            },
        });
        assert.strictEqual(res.status, 0, res.stderr);
        const lines = fs.readFileSync(log, "utf8").trim().split("\n");
        const argv = lines.filter((l) => l.startsWith("ARGV"));
        assert.deepStrictEqual(argv, [
            "ARGV -S tcp:mssql,1433 -U sa -b -C -Q SELECT 1",
            "ARGV -S tcp:mssql,1433 -U sa -b -C -Q SELECT 1",
            `ARGV -S tcp:mssql,1433 -U sa -b -C -i ${dir}/credential.sql`,
            `ARGV -S tcp:mssql,1433 -U sa -b -C -i ${dir}/backup.sql`,
        ]);
        for (const secret of ["pw-Secret-1", "AK123", "SK456"]) assert.ok(!argv.join(" ").includes(secret));
        assert.match(lines[lines.length - 1], /^ENV pw=pw-Secret-1 ak=AK123 stamp=\d{8}T\d{6}Z$/);
        assert.match(res.stdout, /waiting for SQL Server mssql:1433/);
    });

    it("gives up when the server never answers", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mssql-job-"));
        fs.writeFileSync(path.join(dir, "backup.sh"), scripts(bm)["backup.sh"]);
        const res = spawnSync("bash", [path.join(dir, "backup.sh")], {
            encoding: "utf8",
            env: {
                PATH: process.env.PATH,
                SQLCMD: "/bin/false",
                SCRIPTS: dir,
                POLL_SECONDS: "0",
                WAIT_SECONDS: "0",
                MSSQL_HOST: "mssql",
                MSSQL_PORT: "1433",
                MSSQL_USER: "sa",
                TRUST_SERVER_CERTIFICATE: "false",
            },
        });
        assert.strictEqual(res.status, 1);
        assert.match(res.stderr, /SQL Server mssql:1433 not reachable after 0s/);
    });

    it("rejects keys SQL Server cannot use before anything is deployed", () => {
        assert.strictEqual(assertSqlServerSafe("AKIA0123", "access key"), "AKIA0123");
        for (const bad of ["ab:cd", "ab'cd", "ab$(x)", ""])
            assert.throws(() => assertSqlServerSafe(bad, "secret key"), /SQL Server secret key/);
    });

    it("renders a restore Job only when asked, with MOVE and REPLACE", async () => {
        assert.strictEqual(bm.all(JOB).length, 0);
        const r = await render("baremetal", (raw) =>
            Object.assign((raw.mssql as Raw[])[0], {
                restore: {
                    file: "RCIIS_20260217T030000Z.bak",
                    replace: true,
                    move: [
                        { logicalName: "RCIIS", physicalPath: "/var/opt/mssql/data/RCIIS.mdf" },
                        { logicalName: "RCIIS_Log", physicalPath: "/var/opt/mssql/data/RCIIS_Log.ldf" },
                    ],
                },
            }),
        );
        const job = r.get(JOB, `${NAME}-restore`).inputs as { spec: { backoffLimit: number; template: { spec: PodSpec } } };
        assert.strictEqual(job.spec.backoffLimit, 0);
        assert.deepStrictEqual(job.spec.template.spec.containers[0].command, ["/bin/bash", "/scripts/restore.sh"]);
        assert.strictEqual(
            scripts(r)["restore.sql"],
            [
                "RESTORE DATABASE [RCIIS]",
                "FROM URL = N's3://s3.rciis.africa/mssql-backups/mssql/rciis-prod/RCIIS/RCIIS_20260217T030000Z.bak'",
                "WITH CREDENTIAL = N's3_backup_credential',",
                "     CHECKSUM,",
                "     REPLACE,",
                "     MOVE N'RCIIS' TO N'/var/opt/mssql/data/RCIIS.mdf',",
                "     MOVE N'RCIIS_Log' TO N'/var/opt/mssql/data/RCIIS_Log.ldf',",
                "     STATS = 10;",
                "",
            ].join("\n"),
        );
    });

    it("mounts no service-account token in backup or restore pods, and labels the restore Job and its pods as restores", async () => {
        const r = await render("baremetal", (raw) =>
            Object.assign((raw.mssql as Raw[])[0], { restore: { file: "RCIIS_20260217T030000Z.bak", targetDatabase: "RCIIS_copy" } }),
        );
        type Template = { metadata: { labels: Record<string, string> }; spec: PodSpec & { automountServiceAccountToken?: boolean } };
        const backup = r.get(CRON, `${NAME}-backup`).inputs as { spec: { jobTemplate: { spec: { template: Template } } } };
        const restore = r.get(JOB, `${NAME}-restore`).inputs as {
            metadata: { labels: Record<string, string> };
            spec: { template: Template };
        };
        assert.strictEqual(backup.spec.jobTemplate.spec.template.spec.automountServiceAccountToken, false);
        assert.strictEqual(restore.spec.template.spec.automountServiceAccountToken, false);
        const restoreLabels = {
            "app.kubernetes.io/name": "mssql-restore",
            "app.kubernetes.io/part-of": "backup-platform",
            "backup.platform/database": "RCIIS",
        };
        assert.deepStrictEqual(restore.metadata.labels, restoreLabels);
        assert.deepStrictEqual(restore.spec.template.metadata.labels, restoreLabels);
        assert.strictEqual(backup.spec.jobTemplate.spec.template.metadata.labels["app.kubernetes.io/name"], "mssql-backup");
    });

    it("refuses to restore over the live database without replace, and unpinned images", async () => {
        await assert.rejects(
            () => render("baremetal", (raw) => Object.assign((raw.mssql as Raw[])[0], { restore: { file: "RCIIS_x.bak" } })),
            /backup:mssql\[0\]\.restore\.replace: restoring over the live database RCIIS needs replace: true/,
        );
        await assert.rejects(
            () =>
                render("baremetal", (raw) =>
                    Object.assign((raw.mssql as Raw[])[0], { image: "harbor.devops.africa/nucleus/mssql-tools:latest" }),
                ),
            /backup:mssql\[0\]\.image: an image must be pinned to a version, not :latest/,
        );
        await assert.rejects(
            () =>
                render("baremetal", (raw) => Object.assign((raw.mssql as Raw[])[0], { image: "harbor.devops.africa/nucleus/mssql-tools" })),
            /backup:mssql\[0\]\.image: an image must be pinned/,
        );
    });
});
