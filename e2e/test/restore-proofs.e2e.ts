// The proofs that run beside the real engine as scripts of their own (each starts what it needs and
// stops what it started, by pid): PostgreSQL point-in-time recovery through barman-cloud with exactly
// what the program renders (e2e/pitr), and the Rook stand-in against the real RGW (e2e/rook). Here they
// become part of `npm run test:e2e`, so CI runs them and counts them.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { ROOT } from "../harness";
import { shared } from "./hooks";

/** Runs a command with the suite's environment and returns its output; the output is shown on failure. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): { status: number | null; out: string } {
    const res = spawnSync(cmd, args, { cwd: ROOT, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return { status: res.status, out: `${res.stdout}\n${res.stderr}` };
}

/** `e2e/objectstore.sh env` as variables (the script is idempotent: start repairs or reuses). */
function objectStoreEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const started = run("bash", [path.join(ROOT, "e2e", "objectstore.sh"), "start"], env);
    assert.strictEqual(started.status, 0, started.out.slice(-4000));
    const vars: NodeJS.ProcessEnv = {};
    for (const m of started.out.matchAll(/^export (BACKUP_PLATFORM_[A-Z0-9_]+)=["']?([^"'\n]+)["']?$/gm)) vars[m[1]] = m[2];
    assert.ok(vars.BACKUP_PLATFORM_S3_ENDPOINT && vars.BACKUP_PLATFORM_CEPH_CONF, started.out.slice(-2000));
    return { ...env, ...vars };
}

/** The toolchain cache, as e2e/objectstore.sh computes it (its venv holds boto3 and barman-cloud). */
function cacheRoot(env: NodeJS.ProcessEnv): string {
    return env.BACKUP_PLATFORM_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? "/root", ".cache"), "k8s-backup-platform");
}

describe("restores proven with the real components", function () {
    this.timeout(30 * 60_000);
    let env: NodeJS.ProcessEnv = {};

    before(() => {
        env = objectStoreEnv({ ...shared.env, KUBECONFIG: shared.kubeconfig });
        // The S3 smoke check also creates the venv (boto3) the Rook stand-in runs in.
        const check = run("bash", [path.join(ROOT, "e2e", "objectstore.sh"), "check"], env);
        assert.strictEqual(check.status, 0, check.out.slice(-4000));
    });

    after(() => {
        if (process.env.E2E_KEEP !== "1") run("bash", [path.join(ROOT, "e2e", "objectstore.sh"), "stop", "--purge"], env);
    });

    it("PostgreSQL recovers to a point in time, both CNPG methods, from a recovery and from a drill (barman-cloud, RGW)", () => {
        const res = run("bash", [path.join(ROOT, "e2e", "pitr", "run.sh")], env);
        const results = res.out.slice(res.out.lastIndexOf("[pitr] results:"));
        assert.strictEqual(res.status, 0, res.out.slice(-6000));
        const ok = new Set([...results.matchAll(/^\s+(\S+\/\S+): OK$/gm)].map((m) => m[1]));
        for (const method of ["plugin", "barmanObjectStore"]) {
            for (const kind of ["recovery", "drill"]) assert.ok(ok.has(`${method}/${kind}`), `${method}/${kind} not restored:\n${results}`);
        }
    });

    it("the Rook stand-in turns object users and bucket claims into RGW users, buckets, policies and lifecycles", () => {
        const python = path.join(cacheRoot(env), "venv", "bin", "python");
        const res = run(python, [path.join(ROOT, "e2e", "rook", "test_rook.py")], env);
        const summary = /^(\d+) passed, (\d+) failed$/m.exec(res.out);
        assert.ok(summary, res.out.slice(-4000));
        assert.strictEqual(res.status, 0, res.out.slice(-6000));
        assert.strictEqual(summary[2], "0", res.out.slice(-6000));
        assert.ok(Number(summary[1]) >= 40, `only ${summary[1]} checks ran`);
    });
});
