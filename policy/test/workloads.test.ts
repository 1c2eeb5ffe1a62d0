import * as workloads from "../workloads";
import * as fx from "./fixtures";
import { changed, expectOne, type ResourceInput } from "./harness";

const pod = ["props", "spec", "jobTemplate", "spec", "template", "spec"];
const main = [...pod, "containers", 0];
const init = [...pod, "initContainers", 0];

/** The CronJob's pod as a Deployment (chart-rendered workloads are Deployments). */
function deployment(): ResourceInput {
    const job = fx.cronJob();
    const template = (job.props.spec as { jobTemplate: { spec: { template: unknown } } }).jobTemplate.spec.template;
    return {
        type: "kubernetes:apps/v1:Deployment",
        props: { metadata: { name: "velero", namespace: "velero" }, spec: { replicas: 1, template } },
    };
}

describe("workload policies", () => {
    describe("workloads-container-image-pinned", () => {
        const policy = workloads.workloadsContainerImagePinned;
        it("passes tagged images", () => expectOne(policy, fx.cronJob()));
        it("passes a digest", () => expectOne(policy, changed(fx.cronJob(), [...main, "image"], `velero/velero@sha256:${"a".repeat(64)}`)));
        it("passes a registry with a port", () =>
            expectOne(policy, changed(fx.cronJob(), [...main, "image"], "registry.local:5000/tools/mssql:18.4")));
        it("fails :latest", () =>
            expectOne(policy, changed(fx.cronJob(), [...main, "image"], "mcr.microsoft.com/mssql-tools:latest"), /latest/));
        it("fails no tag", () =>
            expectOne(policy, changed(fx.cronJob(), [...main, "image"], "registry.local:5000/mssql-tools"), /has no tag/));
        it("checks init containers", () =>
            expectOne(policy, changed(fx.cronJob(), [...init, "image"], "busybox"), /init container "wait"/));
        it("checks Deployments and Jobs", async () => {
            await expectOne(
                policy,
                changed(deployment(), ["props", "spec", "template", "spec", "containers", 0, "image"], "velero/velero"),
                /no tag/,
            );
            const job = deployment();
            await expectOne(
                policy,
                changed(
                    { ...job, type: "kubernetes:batch/v1:Job" },
                    ["props", "spec", "template", "spec", "containers", 0, "image"],
                    "x:latest",
                ),
                /latest/,
            );
        });
    });

    describe("workloads-pod-run-as-non-root", () => {
        const policy = workloads.workloadsPodRunAsNonRoot;
        it("passes runAsNonRoot on the pod", () => expectOne(policy, fx.cronJob()));
        it("passes runAsNonRoot on every container instead", () =>
            expectOne(
                policy,
                changed(
                    changed(changed(fx.cronJob(), [...pod, "securityContext"], undefined), [...main, "securityContext"], {
                        runAsNonRoot: true,
                    }),
                    [...init, "securityContext"],
                    {
                        runAsNonRoot: true,
                    },
                ),
            ));
        it("fails without runAsNonRoot anywhere", () => {
            const job = changed(changed(fx.cronJob(), [...pod, "securityContext"], undefined), [...init, "securityContext"], {
                runAsNonRoot: true,
            });
            return expectOne(policy, job, /container "backup" may run as root/);
        });
        it("fails a container that overrides the pod with false", () =>
            expectOne(policy, changed(fx.cronJob(), [...main, "securityContext"], { runAsNonRoot: false }), /container "backup"/));
    });

    describe("workloads-container-resource-limits", () => {
        const policy = workloads.workloadsContainerResourceLimits;
        it("passes limits on every container", () => expectOne(policy, fx.cronJob()));
        it("flags a missing memory limit", () =>
            expectOne(policy, changed(fx.cronJob(), [...main, "resources", "limits", "memory"], undefined), /no memory limit/));
        it("flags an init container without limits", () =>
            expectOne(
                policy,
                changed(fx.cronJob(), [...init, "resources"], undefined),
                /init container "wait" has no cpu or memory limit/,
            ));
    });
});
