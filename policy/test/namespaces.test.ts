import * as namespaces from "../namespaces";
import * as fx from "./fixtures";
import { changed, expectOne, runResource } from "./harness";
import * as assert from "assert";

describe("namespace policies", () => {
    describe("kubernetes-namespace-retain-on-delete", () => {
        const policy = namespaces.kubernetesNamespaceRetainOnDelete;
        it("passes a namespace retained on delete", () => expectOne(policy, fx.namespace()));
        it("passes a protected namespace", () => expectOne(policy, changed(fx.namespace(), ["opts"], { protect: true })));
        it("fails a namespace neither retained nor protected", () =>
            expectOne(policy, changed(fx.namespace(), ["opts", "retainOnDelete"], false), /`pulumi destroy` would delete it/));
        it("is not applicable where retainOnDelete cannot be seen (the CLI), unless protected", async () => {
            const outcome = await runResource(policy, changed(fx.namespace(), ["opts"], {}));
            assert.match(outcome.notApplicable ?? "", /retainOnDelete is not visible/);
        });
        it("ignores other resources", () => expectOne(policy, fx.restrictedDeployment()));
    });
});
