// The GitHub workflows, read as data: triggers, token permissions, OIDC instead of keys, one matrix
// entry per stack file, the Pulumi steps' inputs and the policy pack they load, and the scripts and
// npm scripts they call. The render-diff script itself is run once.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

const root = path.resolve(__dirname, "..", "..");
const renderDiff = path.join(root, ".github", "scripts", "render-diff.sh");

interface Step {
    name?: string;
    uses?: string;
    run?: string;
    with?: Record<string, unknown>;
    env?: Record<string, unknown>;
    "working-directory"?: string;
    if?: string;
}

interface Job {
    if?: string;
    permissions?: Record<string, string>;
    environment?: string;
    concurrency?: { group?: string; "cancel-in-progress"?: boolean };
    strategy?: { matrix?: { stack?: string[] } };
    steps: Step[];
}

interface Workflow {
    on: Record<string, { branches?: string[] } | null>;
    permissions?: Record<string, string>;
    jobs: Record<string, Job>;
}

function load(name: string): { doc: Workflow; text: string } {
    const text = fs.readFileSync(path.join(root, ".github", "workflows", name), "utf8");
    return { doc: parse(text) as Workflow, text };
}

const preview = load("preview.yml");
const deploy = load("deploy.yml");
const workflows = { "preview.yml": preview, "deploy.yml": deploy };

function scriptsOf(dir: string): Record<string, string> {
    return (
        (JSON.parse(fs.readFileSync(path.join(root, dir, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {}
    );
}

/** The one pulumi/actions step of a job. */
function pulumiStep(job: Job): { step: Step; index: number } {
    const found = job.steps.flatMap((step, index) => (step.uses?.startsWith("pulumi/actions@") ? [{ step, index }] : []));
    assert.strictEqual(found.length, 1, "one pulumi/actions step per job");
    return found[0];
}

const stackFiles = fs
    .readdirSync(root)
    .flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? [])
    .sort();

describe("GitHub workflows", () => {
    it("preview runs on pull requests to main, deploy on pushes to main", () => {
        assert.deepStrictEqual(Object.keys(preview.doc.on), ["pull_request"]);
        assert.deepStrictEqual(preview.doc.on.pull_request?.branches, ["main"]);
        assert.deepStrictEqual(Object.keys(deploy.doc.on), ["push"]);
        assert.deepStrictEqual(deploy.doc.on.push?.branches, ["main"]);
    });

    it("grant an OIDC token and read-only contents; only preview may write to pull requests", () => {
        const granted: Record<string, string> = preview.doc.permissions ?? {};
        assert.deepStrictEqual({ ...granted }, { contents: "read", "pull-requests": "write", "id-token": "write" });
        assert.deepStrictEqual(deploy.doc.permissions, { contents: "read", "id-token": "write" });
        for (const job of Object.values(deploy.doc.jobs)) assert.strictEqual(job.permissions?.["pull-requests"], undefined);
        for (const job of Object.values(preview.doc.jobs))
            for (const [scope, level] of Object.entries(job.permissions ?? {}))
                assert.ok(level === "read" || granted[scope] === "write", `job widens ${scope}`);
    });

    for (const [name, { doc, text }] of Object.entries(workflows)) {
        describe(name, () => {
            it("uses no long-lived AWS keys: credentials come from assuming a role through OIDC", () => {
                assert.doesNotMatch(text, /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-access-key-id|aws-secret-access-key/i);
                const steps = Object.values(doc.jobs).flatMap((j) => j.steps);
                const aws = steps.filter((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
                assert.ok(aws.length > 0, "configures AWS credentials");
                for (const step of aws) assert.match(String(step.with?.["role-to-assume"]), /^\$\{\{ vars\.[A-Z_]+ \}\}$/);
            });

            it("runs one matrix entry per Pulumi.<stack>.yaml", () => {
                const matrices = Object.values(doc.jobs).flatMap((j) => (j.strategy?.matrix?.stack ? [j.strategy.matrix.stack] : []));
                assert.ok(matrices.length > 0);
                for (const stacks of matrices) assert.deepStrictEqual([...stacks].sort(), stackFiles);
            });

            it("calls only npm scripts that exist where they run", () => {
                for (const step of Object.values(doc.jobs).flatMap((j) => j.steps)) {
                    const dir = step["working-directory"] ?? ".";
                    for (const [, script] of (step.run ?? "").matchAll(/npm run (?:--silent )?([\w:-]+)/g))
                        assert.ok(script in scriptsOf(dir), `npm run ${script} in ${dir}`);
                }
            });
        });
    }

    it("render-diff.sh calls only npm scripts of the root package", () => {
        const matches = [...fs.readFileSync(renderDiff, "utf8").matchAll(/npm run (?:--silent )?([\w:-]+)/g)].map((m) => m[1]);
        assert.deepStrictEqual([...new Set(matches)], ["render"]);
        assert.ok("render" in scriptsOf("."));
    });

    for (const [name, workflow, command] of [
        ["preview", preview, "preview"],
        ["deploy", deploy, "up"],
    ] as const) {
        describe(`the ${name} job's pulumi step`, () => {
            const job = workflow.doc.jobs[name];

            it(`runs \`pulumi ${command}\` on the matrix stack from the project root, outputs suppressed`, () => {
                const inputs = pulumiStep(job).step.with ?? {};
                assert.strictEqual(inputs.command, command);
                assert.strictEqual(inputs["stack-name"], "${{ matrix.stack }}");
                assert.strictEqual(inputs["work-dir"], ".");
                assert.strictEqual(inputs["cloud-url"], "${{ vars.PULUMI_BACKEND_URL }}");
                assert.strictEqual(inputs["suppress-outputs"], true);
                if (command === "preview") {
                    assert.strictEqual(inputs["comment-on-pr"], true);
                    assert.strictEqual(inputs["edit-pr-comment"], true);
                } else assert.strictEqual(inputs["comment-on-pr"], undefined);
            });

            it("loads the policy pack, installed and built in its own folder first", () => {
                const { step, index } = pulumiStep(job);
                const pack = String(step.with?.policyPacks);
                assert.ok(fs.existsSync(path.join(root, pack, "PulumiPolicy.yaml")), `${pack}/PulumiPolicy.yaml`);
                const main = (JSON.parse(fs.readFileSync(path.join(root, pack, "package.json"), "utf8")) as { main?: string }).main;
                assert.strictEqual(main, "bin/index.js", "the CLI loads the pack's package.json main");
                const build = job.steps.findIndex((s) => s["working-directory"] === pack && /npm ci\b.*&& npm run build/.test(s.run ?? ""));
                assert.ok(build >= 0 && build < index, "npm ci && npm run build in the pack before the pulumi step");
                const program = job.steps.findIndex((s) => s["working-directory"] === undefined && s.run === "npm run build");
                assert.ok(program >= 0 && program < index, "the program is built before the pulumi step");
            });

            it("passes the pack config derived from the stack file", () => {
                const { step, index } = pulumiStep(job);
                assert.strictEqual(step.with?.policyPackConfigs, "${{ runner.temp }}/policy-config.json");
                const writes = job.steps.findIndex((s) =>
                    /stack-config\.js "Pulumi\.\$STACK\.yaml" > "\$RUNNER_TEMP\/policy-config\.json"/.test(s.run ?? ""),
                );
                assert.ok(writes >= 0 && writes < index);
                assert.ok(fs.existsSync(path.join(root, "policy", "scripts", "stack-config.ts")));
            });

            it("writes the bare-metal kubeconfig from a secret, not from the repository", () => {
                const step = job.steps.find((s) => s.if === "matrix.stack == 'baremetal'" && /KUBECONFIG/.test(s.run ?? ""));
                assert.match(String(step?.env?.KUBECONFIG_DATA), /^\$\{\{ secrets\.[A-Z_]+ \}\}$/);
            });
        });
    }

    it("deploys one run per stack at a time, never cancelled, through the stack's environment", () => {
        const job = deploy.doc.jobs.deploy;
        assert.strictEqual(job.environment, "${{ matrix.stack }}");
        assert.strictEqual(job.concurrency?.group, "deploy-${{ matrix.stack }}");
        assert.strictEqual(job.concurrency?.["cancel-in-progress"], false);
    });

    it("the render-diff job runs .github/scripts/render-diff.sh, which is executable, and uploads its diff", () => {
        const steps = preview.doc.jobs["render-diff"].steps;
        assert.ok(steps.some((s) => (s.run ?? "").startsWith(".github/scripts/render-diff.sh ")));
        assert.ok(steps.some((s) => s.uses?.startsWith("actions/upload-artifact@")));
        assert.ok((fs.statSync(renderDiff).mode & 0o111) !== 0, "render-diff.sh is executable");
    });
});

describe(".github/scripts/render-diff.sh", function () {
    this.timeout(300000);

    before(function () {
        if (spawnSync("git", ["rev-parse", "--is-inside-work-tree"], { cwd: root }).status !== 0) this.skip();
    });

    it("prints nothing and exits 0 for the same commit on both sides, and leaves no worktree behind", () => {
        // A private TMPDIR: other runs of this suite may have their own worktrees open meanwhile.
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "render-diff-test-"));
        const res = spawnSync(renderDiff, ["HEAD", "baremetal", "HEAD"], {
            cwd: root,
            encoding: "utf8",
            env: { ...process.env, TMPDIR: tmp },
        });
        assert.strictEqual(res.status, 0, res.stderr);
        assert.strictEqual(res.stdout, "");
        const worktrees = spawnSync("git", ["worktree", "list", "--porcelain"], { cwd: root, encoding: "utf8" }).stdout;
        assert.ok(!worktrees.includes(tmp), worktrees);
        assert.deepStrictEqual(fs.readdirSync(tmp), [], "the script's work directory is gone");
        fs.rmdirSync(tmp);
    });

    it("exits 2 on a ref that does not exist", () => {
        const res = spawnSync(renderDiff, ["no-such-ref", "aws"], { cwd: root, encoding: "utf8" });
        assert.strictEqual(res.status, 2);
        assert.match(res.stderr, /unknown base ref no-such-ref/);
    });
});
