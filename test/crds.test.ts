// Chart CRDs lose their schema documentation before they reach the state (core/ownership.ts leanCrds), and nothing
// else: every other key and value of the real Velero chart's 13 CRDs is kept as the chart ships it.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { parseAllDocuments } from "yaml";
import { CRD_TYPE, leanCrds, withoutDescriptions } from "../core/ownership";
import { fixture } from "./harness";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every leaf as "path = value", descriptions (string-valued `description` keys) left out. */
function leaves(value: Json, at = "", out: string[] = []): string[] {
    if (Array.isArray(value)) value.forEach((v, i) => leaves(v, `${at}[${i}]`, out));
    else if (value !== null && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) if (!(k === "description" && typeof v === "string")) leaves(v, `${at}.${k}`, out);
    } else out.push(`${at} = ${JSON.stringify(value)}`);
    return out;
}

const descriptions = (value: Json): number =>
    Array.isArray(value)
        ? value.reduce<number>((n, v) => n + descriptions(v), 0)
        : value !== null && typeof value === "object"
          ? Object.entries(value).reduce((n, [k, v]) => n + (k === "description" && typeof v === "string" ? 1 : descriptions(v)), 0)
          : 0;

const transform = (type: string, props: Record<string, unknown>) =>
    leanCrds({ type, name: "x", custom: true, props, opts: { retainOnDelete: true } }) as
        { props: Record<string, Json>; opts: pulumi.CustomResourceOptions } | undefined;

describe("chart CRDs in the state", () => {
    const dir = fixture("charts/velero-11.3.2/crds");
    const crds = fs
        .readdirSync(dir)
        .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJSON() as Record<string, Json>))
        .filter((d) => d !== null);

    it("lose every schema and printer-column description of the real Velero chart, and nothing else", () => {
        assert.strictEqual(crds.length, 13);
        let before = 0;
        let after = 0;
        for (const crd of crds) {
            const out = transform(CRD_TYPE, crd);
            assert.ok(out, "a CRD is transformed");
            assert.ok(descriptions(crd.spec) > 0, "the chart's CRD is documented");
            assert.strictEqual(descriptions(out.props.spec), 0, JSON.stringify(crd.metadata));
            assert.deepStrictEqual(leaves(out.props as Json), leaves(crd), "every other key and value is kept");
            assert.deepStrictEqual(out.opts, { retainOnDelete: true }, "the options pass through (CRDs stay retained)");
            before += JSON.stringify(crd).length;
            after += JSON.stringify(out.props).length;
        }
        // 101,952 -> 36,100 characters for chart 11.3.2: the state holds each CRD three times.
        assert.ok(after < 0.4 * before, `${after} of ${before}`);
    });

    it("keeps a property named description, and leaves every other type alone", () => {
        const schema: Json = { type: "object", description: "doc", properties: { description: { type: "string", description: "doc" } } };
        assert.deepStrictEqual(withoutDescriptions(schema), { type: "object", properties: { description: { type: "string" } } });
        assert.strictEqual(transform("kubernetes:core/v1:ConfigMap", { data: { description: "x" } }), undefined);
    });
});
