// The proofs that run beside the real engine as scripts of their own (each starts what it needs and
// stops what it started, by pid): PostgreSQL point-in-time recovery through barman-cloud with exactly
// what the program renders (e2e/pitr), and the Rook stand-in against the real RGW (e2e/rook). Here they
// become part of `npm run test:e2e`, so CI runs them and counts them.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../harness";
import { shared } from "./hooks";

/** Runs a command with the suite's environment and returns its output; the output is shown on failure. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): { status: number | null; out: string } {
    const res = spawnSync(cmd, args, { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { status: res.status, out: `${res.stdout}\n${res.stderr}` };
}

/** The toolchain cache, as e2e/objectstore.sh computes it (its venv holds boto3 and barman-cloud). */
function cacheRoot(env: NodeJS.ProcessEnv): string {
    return env.BACKUP_PLATFORM_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? "/root", ".cache"), "k8s-backup-platform");
}

describe("restores proven with the real components", function () {
    this.timeout(30 * 60_000);
    let env: NodeJS.ProcessEnv = {};

    before(() => {
        env = { ...shared.env, KUBECONFIG: shared.kubeconfig };
    });

    it("PostgreSQL recovers to a point in time, both CNPG methods, from a recovery and from a drill (barman-cloud, RGW)", () => {
        // A private RGW (run.sh starts and stops it): PITR provisions users and the cnpg bucket's policy by hand, which
        // must not race the Rook stand-in reconciling the shared store's buckets for the other tests.
        const state = path.join(os.tmpdir(), `pitr-s3-${process.pid}`);
        const res = run("bash", [path.join(ROOT, "e2e", "pitr", "run.sh")], { ...env, BACKUP_PLATFORM_S3_STATE: state });
        run("bash", [path.join(ROOT, "e2e", "objectstore.sh"), "stop", "--purge"], { ...env, BACKUP_PLATFORM_S3_STATE: state });
        const results = res.out.slice(res.out.lastIndexOf("[pitr] results:"));
        assert.strictEqual(res.status, 0, res.out.slice(-6000));
        const ok = new Set([...results.matchAll(/^\s+(\S+\/\S+): OK$/gm)].map((m) => m[1]));
        for (const method of ["plugin", "barmanObjectStore"]) {
            for (const kind of ["recovery", "drill"]) assert.ok(ok.has(`${method}/${kind}`), `${method}/${kind} not restored:\n${results}`);
        }
    });

    it("the off-site copy (the program's CronJob command, rclone) copies every backup object and never deletes one", () => {
        // run.sh starts its own control plane and RGW in private state dirs and stops both by pid.
        const res = run("bash", [path.join(ROOT, "e2e", "offsite", "run.sh")], { ...env, BACKUP_PLATFORM_STATE: undefined });
        const summary = /^(\d+) passed, (\d+) failed$/m.exec(res.out);
        assert.ok(summary, res.out.slice(-4000));
        assert.strictEqual(res.status, 0, res.out.slice(-6000));
        assert.strictEqual(summary[2], "0", res.out.slice(-6000));
        assert.ok(Number(summary[1]) >= 50, `only ${summary[1]} checks ran`);
    });

    it("the Rook stand-in turns object users and bucket claims into RGW users, buckets, policies and lifecycles", () => {
        const python = path.join(cacheRoot(env), "venv", "bin", "python");
        // The suite's RGW; the test reconciles only its own namespace, the suite's watch only the object store's.
        const res = run(python, [path.join(ROOT, "e2e", "rook", "test_rook.py")], {
            ...env,
            BACKUP_PLATFORM_S3_ENDPOINT: shared.store.endpoint,
            BACKUP_PLATFORM_CEPH_CONF: shared.store.cephConf,
        });
        const summary = /^(\d+) passed, (\d+) failed$/m.exec(res.out);
        assert.ok(summary, res.out.slice(-4000));
        assert.strictEqual(res.status, 0, res.out.slice(-6000));
        assert.strictEqual(summary[2], "0", res.out.slice(-6000));
        assert.ok(Number(summary[1]) >= 40, `only ${summary[1]} checks ran`);
    });
});
