import * as assert from "assert";
import * as podsecurity from "../podsecurity";
import * as fx from "./fixtures";
import { changed, expectOne, runStack, stackResources, type ResourceInput, type StackInput } from "./harness";

const member = (input: ResourceInput): StackInput => ({
    type: input.type,
    name: input.name ?? "fixture",
    props: input.props,
    opts: input.opts,
});

/** The restricted velero namespace with a Deployment and the Velero chart in it. */
function stack(edit: { namespace?: ResourceInput; deployment?: ResourceInput; chart?: ResourceInput } = {}): StackInput[] {
    return [edit.namespace ?? fx.namespace(), edit.deployment ?? fx.restrictedDeployment(), edit.chart ?? fx.restrictedVeleroChart()].map(
        member,
    );
}

async function violations(inputs: StackInput[], config: object = {}): Promise<string[]> {
    return (await runStack(podsecurity.workloadsPodSecurityRestricted, stackResources(inputs), config)).violations;
}

/** Exactly these problems, in order. */
async function expectStack(inputs: StackInput[], ...patterns: RegExp[]): Promise<void> {
    const found = await violations(inputs);
    assert.strictEqual(found.length, patterns.length, JSON.stringify(found));
    patterns.forEach((p, i) => assert.match(found[i], p));
}

const pod = ["props", "spec", "template", "spec"];
const init = [...pod, "initContainers", 0, "securityContext"];
const main = [...pod, "containers", 0, "securityContext"];
const values = ["props", "values"];

describe("pod security policies", () => {
    describe("workloads-pod-security-restricted", () => {
        it("passes restricted pods and the Velero chart's restricted values", async () =>
            assert.deepStrictEqual(await violations(stack()), []));

        const deploymentCases: [string, (string | number)[], unknown, RegExp][] = [
            [
                "allowPrivilegeEscalation true",
                [...main, "allowPrivilegeEscalation"],
                true,
                /container "velero" does not set allowPrivilegeEscalation: false/,
            ],
            ["capabilities not dropped", [...main, "capabilities"], { drop: ["NET_RAW"] }, /does not drop ALL capabilities/],
            ["an added capability", [...main, "capabilities"], { drop: ["ALL"], add: ["SYS_ADMIN"] }, /adds capabilities SYS_ADMIN/],
            ["a privileged container", [...main, "privileged"], true, /container "velero" is privileged/],
            ["root allowed by the container", [...main, "runAsNonRoot"], false, /container "velero" does not set runAsNonRoot/],
            ["user 0", [...main, "runAsUser"], 0, /container "velero" runs as user 0/],
            [
                "an Unconfined seccomp profile",
                [...main, "seccompProfile"],
                { type: "Unconfined" },
                /container "velero" has no RuntimeDefault or Localhost seccomp/,
            ],
            [
                "a hostPath volume",
                [...pod, "volumes", 0],
                { name: "plugins", hostPath: { path: "/var/lib/kubelet/pods" } },
                /volume "plugins" is of type hostPath/,
            ],
            ["the host network", [...pod, "hostNetwork"], true, /hostNetwork is true/],
            ["a host port", [...pod, "containers", 0, "ports"], [{ containerPort: 8085, hostPort: 8085 }], /uses a host port/],
        ];
        it("fails an init container without a security context (what the program renders today)", () =>
            expectStack(
                stack({ deployment: changed(fx.restrictedDeployment(), init, undefined) }),
                /init container "velero-plugin-for-aws" does not set allowPrivilegeEscalation: false/,
                /init container "velero-plugin-for-aws" does not drop ALL capabilities/,
            ));
        for (const [label, path, value, pattern] of deploymentCases)
            it(`fails ${label}`, () => expectStack(stack({ deployment: changed(fx.restrictedDeployment(), path, value) }), pattern));

        it("fails a pod without seccomp or runAsNonRoot anywhere, once per container", async () => {
            const found = await violations(
                stack({ deployment: changed(fx.restrictedDeployment(), [...pod, "securityContext"], undefined) }),
            );
            assert.deepStrictEqual(found.length, 4, JSON.stringify(found));
        });

        it("accepts a Localhost seccomp profile", async () =>
            assert.deepStrictEqual(
                await violations(
                    stack({
                        deployment: changed(fx.restrictedDeployment(), [...main, "seccompProfile"], {
                            type: "Localhost",
                            localhostProfile: "p.json",
                        }),
                    }),
                ),
                [],
            ));

        it("reads the Velero chart's init containers from its values (the program's missing security context)", () =>
            expectStack(
                stack({ chart: changed(fx.restrictedVeleroChart(), [...values, "initContainers", 0, "securityContext"], undefined) }),
                /velero \(Velero chart values\), in restricted namespace velero: init container "velero-plugin-for-aws" does not set allowPrivilegeEscalation/,
                /init container "velero-plugin-for-aws" does not drop ALL capabilities/,
            ));

        it("reads the chart's server container and pod security contexts", async () => {
            await expectStack(
                stack({ chart: changed(fx.restrictedVeleroChart(), [...values, "containerSecurityContext", "capabilities"], undefined) }),
                /container "velero" does not drop ALL/,
            );
            const noPod = changed(fx.restrictedVeleroChart(), [...values, "podSecurityContext", "seccompProfile"], undefined);
            assert.strictEqual(
                (await violations(stack({ chart: noPod }))).length,
                2,
                "server and init container inherit no seccomp profile",
            );
        });

        it("fails the node agent in a restricted namespace", () =>
            expectStack(
                stack({ chart: changed(fx.restrictedVeleroChart(), [...values, "deployNodeAgent"], true) }),
                /deployNodeAgent is true: the node agent mounts/,
            ));

        it("leaves namespaces that enforce a weaker level, or none, to their own admission", async () => {
            const bad = changed(fx.restrictedDeployment(), [...init], undefined);
            const level = (v: unknown) => changed(fx.namespace(), ["props", "metadata", "labels", "pod-security.kubernetes.io/enforce"], v);
            assert.deepStrictEqual(await violations(stack({ namespace: level("privileged"), deployment: bad })), []);
            assert.deepStrictEqual(await violations(stack({ namespace: level(undefined), deployment: bad })), []);
        });

        it("checks namespaces the stack does not own when the config names them as restricted", async () => {
            const elsewhere = changed(
                changed(fx.restrictedDeployment(), [...init, "allowPrivilegeEscalation"], true),
                ["props", "metadata", "namespace"],
                "rciis-prod",
            );
            const inputs = stack({ deployment: elsewhere });
            assert.deepStrictEqual(await violations(inputs), []);
            const found = await violations(inputs, { restrictedNamespaces: ["rciis-prod"] });
            assert.strictEqual(found.length, 1, JSON.stringify(found));
            assert.match(found[0], /Deployment rciis-prod\/velero, in restricted namespace rciis-prod: init container/);
        });

        it("finds the pods of CronJobs, Jobs and DaemonSets", async () => {
            const template = (fx.restrictedDeployment().props.spec as { template: unknown }).template;
            const bad = changed(template, ["spec", "containers", 0, "securityContext"], undefined);
            const meta = { name: "w", namespace: "velero" };
            const workloads: StackInput[] = [
                {
                    type: "kubernetes:batch/v1:CronJob",
                    name: "c",
                    props: { metadata: meta, spec: { jobTemplate: { spec: { template: bad } } } },
                },
                { type: "kubernetes:batch/v1:Job", name: "j", props: { metadata: meta, spec: { template: bad } } },
                { type: "kubernetes:apps/v1:DaemonSet", name: "d", props: { metadata: meta, spec: { template: bad } } },
            ];
            const found = await violations([member(fx.namespace()), ...workloads]);
            assert.deepStrictEqual(
                found.map((v) => v.split(",")[0]),
                ["CronJob velero/w", "CronJob velero/w", "Job velero/w", "Job velero/w", "DaemonSet velero/w", "DaemonSet velero/w"],
            );
        });
    });

    describe("workloads-namespace-pod-security-label", () => {
        const policy = podsecurity.workloadsNamespacePodSecurityLabel;
        const label = ["props", "metadata", "labels", "pod-security.kubernetes.io/enforce"];
        it("passes restricted", () => expectOne(policy, fx.namespace()));
        it("passes privileged (the node agent's namespace)", () => expectOne(policy, changed(fx.namespace(), label, "privileged")));
        it("fails a namespace without the label", () =>
            expectOne(policy, changed(fx.namespace(), label, undefined), /has no "pod-security.kubernetes.io\/enforce" label/));
        it("fails an unknown level", () =>
            expectOne(policy, changed(fx.namespace(), label, "strict"), /allowed: privileged, baseline, restricted/));
    });
});
