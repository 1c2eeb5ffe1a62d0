// Rows Grafana repeats once per target, so the dashboard's JSON does not grow by a row per database: the targets are
// listed once, in a template variable, and the row is written once.
//
// The variable is a custom one, from the same inputs as the alerts, not a query over the metrics' labels: a configured
// database whose series are missing still gets its row, reading "no data", as when each had its own row. Its options
// read `namespace/name : name` (Grafana's text : value), so the picker and the row's title show the namespace while
// queries select by the name, which is unique among the targets (checked below; the config makes PostgreSQL cluster
// names unique across namespaces). A hidden constant holds the targets' namespaces: a repeated row selects its target by
// name within them, as the CNPG alerts scope their clusters (a drill CronJob's alert names its one namespace, which
// the unique name makes redundant). Values are regex-escaped by Grafana's Prometheus data source, hence `=~` matchers.
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as grafana from "@grafana/grafana-foundation-sdk/dashboard";
import { namespacesRegex } from "../alerts";

/** What a repeated row's titles and queries refer to its target by: Grafana fills them in per row. */
export interface RepeatRefs {
    /** The variable the row repeats over. */
    readonly variable: string;
    /** The target's name (the variable's value). */
    readonly name: string;
    /** `namespace/name` (the variable's text). */
    readonly path: string;
    /** The namespaces of all the targets, as a regular expression. */
    readonly namespaces: string;
}

/** A target of a repeated row. */
export interface Target {
    readonly namespace: string;
    readonly name: string;
}

/**
 * The variables a row repeated over `targets` needs: `variable` (multi-value, every target selected by default) and the
 * hidden `<variable>_namespaces`. Throws when two targets share a name: a variable's value could not tell them apart.
 */
export function repeatOver(
    variable: string,
    label: string,
    targets: readonly Target[],
): { variables: cog.Builder<grafana.VariableModel>[]; refs: RepeatRefs } {
    const names = targets.map((t) => t.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new Error(`dashboard: "${twice}" names two targets of the ${variable} rows`);
    const namespaces = `${variable}_namespaces`;
    return {
        variables: [
            new grafana.CustomVariableBuilder(variable)
                .label(label)
                .values(targets.map((t) => `${t.namespace}/${t.name} : ${t.name}`).join(","))
                .multi(true)
                .includeAll(true)
                .current({ text: ["All"], value: ["$__all"] }),
            new grafana.ConstantVariableBuilder(namespaces).value(namespacesRegex(targets)),
        ],
        refs: { variable, name: `\${${variable}}`, path: `\${${variable}:text}`, namespaces: `\${${namespaces}}` },
    };
}
