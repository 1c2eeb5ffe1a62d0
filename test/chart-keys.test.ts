// The real charts' values.yaml, as a key check: Helm ignores a key a chart does not read, and Velero's values schema
// is permissive (no additionalProperties: false), so a misspelt or misplaced key would pass every other check.
import * as assert from "assert";
import * as fs from "fs";
import { parse } from "yaml";
import { CHARTS } from "../components/charts";
import { chartValues, fixture, render, type Raw } from "./harness";

type Obj = Record<string, unknown>;
const isMap = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Key paths in `sent` that the chart's defaults do not have. A default that is an empty map or null (`annotations:`)
 * is open: the chart passes whatever it holds through. Lists are values, not descended into.
 */
function unknownKeys(sent: Obj, defaults: unknown, where = ""): string[] {
    if (defaults === null || (isMap(defaults) && Object.keys(defaults).length === 0)) return [];
    if (!isMap(defaults)) return [`${where} (a ${typeof defaults} in the chart, a map here)`];
    return Object.entries(sent).flatMap(([k, v]) => {
        const path = where === "" ? k : `${where}.${k}`;
        if (!(k in defaults)) return [path];
        return isMap(v) ? unknownKeys(v, defaults[k], path) : [];
    });
}

const chartDefaults = (name: keyof typeof CHARTS) =>
    parse(fs.readFileSync(fixture(`charts/${name}-${CHARTS[name].version}/values.yaml`), "utf8")) as Obj;

describe("chart values: every key the program sends is one the real chart reads", () => {
    const cases: [string, string, (raw: Raw) => void][] = [
        ["baremetal", "HA", (raw) => (raw.ha = true)],
        ["baremetal", "non-HA, node agent", (raw) => ((raw.ha = false), (raw.velero = { ...(raw.velero as Raw), nodeAgent: true }))],
        [
            "aws",
            "HA, node agent, native snapshots",
            (raw) => (raw.velero = { ...(raw.velero as Raw), nodeAgent: true, nativeSnapshots: true }),
        ],
        ["aws", "non-HA", (raw) => (raw.ha = false)],
    ];
    for (const [stack, label, edit] of cases) {
        it(`${stack} ${label}`, async () => {
            const r = await render(stack, edit);
            for (const name of ["velero", "descheduler"] as const) {
                assert.deepStrictEqual(unknownKeys(chartValues(r, name), chartDefaults(name)), [], name);
            }
        });
    }

    it("the check itself finds a misspelt and a misplaced key", () => {
        const defaults = chartDefaults("velero");
        assert.deepStrictEqual(unknownKeys({ serviceAcount: { server: { create: true } } }, defaults), ["serviceAcount"]);
        assert.deepStrictEqual(unknownKeys({ configuration: { schedules: {} } }, defaults), ["configuration.schedules"]);
        assert.deepStrictEqual(unknownKeys({ serviceAccount: { server: { annotations: { any: "x" } } } }, defaults), []);
    });
});
