// The compiled pack as the CLI runs it: started through @pulumi/pulumi's run-policy-pack (what the
// Node.js language host executes for `--policy-pack policy`) and called over the analyzer gRPC
// protocol. This checks loading (package.json "main"), the pack's metadata and the wiring of
// props, options, parents and config, short of a real engine. (Protobuf Structs sort keys, hence
// "bucket" before "user" below.)
import * as grpc from "@grpc/grpc-js";
import * as assert from "assert";
import { spawn, type ChildProcess } from "child_process";
import * as path from "path";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct, type JavaScriptValue } from "google-protobuf/google/protobuf/struct_pb";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as proto from "@pulumi/pulumi/proto/analyzer_pb";
import { cephObjectStoreUserNoCapabilities } from "../ceph";
import { policies } from "../policies";
import * as fx from "./fixtures";
import { urnOf } from "./harness";

const packDir = path.resolve(__dirname, "..", "..");
const runPolicyPack = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir] });

/** The sentinel the engine sends for values unknown during a preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function unary<Res>(invoke: (cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
    return new Promise((resolve, reject) => invoke((err, res) => (err ? reject(err) : resolve(res))));
}

function options(parent = ""): proto.AnalyzerResourceOptions {
    return new proto.AnalyzerResourceOptions().setProtect(false).setParent(parent);
}

function analyzeRequest(type: string, name: string, props: Record<string, unknown>): proto.AnalyzeRequest {
    return new proto.AnalyzeRequest()
        .setType(type)
        .setName(name)
        .setUrn(urnOf(type, name))
        .setProperties(Struct.fromJavaScript(props as Record<string, JavaScriptValue>))
        .setOptions(options());
}

function stackResource(type: string, name: string, props: Record<string, unknown>, parent = ""): proto.AnalyzerResource {
    return new proto.AnalyzerResource()
        .setType(type)
        .setName(name)
        .setUrn(urnOf(type, name))
        .setProperties(Struct.fromJavaScript(props as Record<string, JavaScriptValue>))
        .setOptions(options(parent))
        .setParent(parent);
}

/** Diagnostics, with the message the policy reported (the host prefixes it with the policy's description). */
const diagnostics = (res: proto.AnalyzeResponse) =>
    res.getDiagnosticsList().map((d) => {
        const full = d.getMessage();
        const message = full.startsWith(`${d.getDescription()}\n`) ? full.slice(d.getDescription().length + 1) : full;
        return { policy: d.getPolicyname(), level: d.getEnforcementlevel(), message, urn: d.getUrn() };
    });

describe("the pack served as the CLI runs it", function () {
    this.timeout(60000);
    let child: ChildProcess | undefined;
    let client: AnalyzerClient;

    before(async () => {
        // run-policy-pack drops its first argument (the engine address) and loads the second: the
        // pack directory, i.e. its package.json "main".
        const proc = spawn(process.execPath, [runPolicyPack, "127.0.0.1:0", "."], { cwd: packDir, stdio: ["ignore", "pipe", "pipe"] });
        child = proc;
        let stderr = "";
        proc.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        const port = await new Promise<string>((resolve, reject) => {
            proc.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
            proc.once("exit", (code) => reject(new Error(`the pack exited with ${code}: ${stderr}`)));
        });
        assert.match(port, /^\d+$/, `the pack printed its port (got ${port})`);
        client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        if (child?.pid !== undefined && child.exitCode === null) child.kill();
    });

    it("describes itself: name, and every policy with its enforcement level", async () => {
        const info = await unary<proto.AnalyzerInfo>((cb) => client.getAnalyzerInfo(new Empty(), cb));
        assert.strictEqual(info.getName(), "backup-platform");
        const served = info.getPoliciesList().map((p) => [p.getName(), p.getEnforcementlevel()]);
        const level = { advisory: proto.EnforcementLevel.ADVISORY, mandatory: proto.EnforcementLevel.MANDATORY };
        assert.deepStrictEqual(
            served,
            policies.map((p) => [p.name, level[p.enforcementLevel as "advisory" | "mandatory"]]),
        );
    });

    it("reports a mandatory violation on the seeds' object user", async () => {
        const user = fx.objectStoreUser();
        const props = { ...user.props, spec: { store: "ceph-objectstore", capabilities: { user: "*", bucket: "*" } } };
        const res = await unary<proto.AnalyzeResponse>((cb) => client.analyze(analyzeRequest(user.type, "velero", props), cb));
        assert.strictEqual(
            res.getDiagnosticsList()[0]?.getMessage(),
            `${cephObjectStoreUserNoCapabilities.description}\nthe user has admin capabilities bucket: "*", user: "*" on the RGW admin API.`,
            "the CLI shows the description, then what is wrong",
        );
        assert.deepStrictEqual(diagnostics(res), [
            {
                policy: "ceph-objectstoreuser-no-capabilities",
                level: proto.EnforcementLevel.MANDATORY,
                message: 'the user has admin capabilities bucket: "*", user: "*" on the RGW admin API.',
                urn: "",
            },
        ]);
    });

    it("passes the program's own resources", async () => {
        for (const input of [
            fx.bucketPolicy(),
            fx.lifecycle(),
            fx.irsaRole(),
            fx.objectBucketClaim(),
            fx.scheduledBackup(),
            fx.veleroChart(),
            fx.cronJob(),
        ]) {
            const res = await unary<proto.AnalyzeResponse>((cb) =>
                client.analyze(analyzeRequest(input.type, input.name ?? "fixture", input.props), cb),
            );
            assert.deepStrictEqual(diagnostics(res), [], input.type);
        }
    });

    it("turns a value unknown during preview into an advisory note, not a failure", async () => {
        const input = fx.bucketPolicy();
        const res = await unary<proto.AnalyzeResponse>((cb) =>
            client.analyze(analyzeRequest(input.type, "p", { ...input.props, policy: UNKNOWN }), cb),
        );
        const found = diagnostics(res);
        assert.strictEqual(found.length, 1);
        assert.strictEqual(found[0].level, proto.EnforcementLevel.ADVISORY);
        assert.match(found[0].message, /can't run policy 's3-bucket-policy-deny-insecure-transport'.* during preview/);
    });

    it("links parents in stack validation and takes config from the engine", async () => {
        const bucket = fx.bucket();
        const bucketUrn = urnOf(bucket.type, "b");
        const children = [fx.encryption(), fx.versioning(), fx.publicAccessBlock(), fx.bucketPolicy()].map((r, i) =>
            stackResource(r.type, `c${i}`, r.props, bucketUrn),
        );
        const request = new proto.AnalyzeStackRequest().setResourcesList([stackResource(bucket.type, "b", bucket.props), ...children]);
        const inventory = new proto.PolicyConfig()
            .setEnforcementlevel(proto.EnforcementLevel.MANDATORY)
            .setProperties(Struct.fromJavaScript({ inventory: [{ name: "esb-postgres", namespace: "rciis-prod" }] }));
        const configure = new proto.ConfigureAnalyzerRequest();
        configure.getPolicyconfigMap().set("stack-cnpg-backup-pairing", inventory);
        await unary<Empty>((cb) => client.configure(configure, cb));
        const found = diagnostics(await unary<proto.AnalyzeResponse>((cb) => client.analyzeStack(request, cb)));
        assert.deepStrictEqual(
            found.map((d) => [d.policy, d.message, d.urn]),
            [
                ["stack-s3-bucket-guardrails", "bucket b has no lifecycle configuration.", bucketUrn],
                [
                    "stack-cnpg-backup-pairing",
                    "inventory database rciis-prod/esb-postgres has no backup configuration (Cluster or ClusterPatch with a backup target).",
                    "",
                ],
                ["stack-cnpg-backup-pairing", "inventory database rciis-prod/esb-postgres has no ScheduledBackup.", ""],
            ],
        );
    });
});
