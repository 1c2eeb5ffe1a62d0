// What Grafana shows of a dashboard's JSON, for the tests: written from Grafana's behaviour, not from the dashboard's
// code. A custom variable's options are its comma-separated query (`\,` a literal comma; `text : value` a pair, as
// Grafana's CustomVariable parses them); a row with `repeat` is drawn once per option of its variable (every option:
// the variables default to All), with the panels that follow it up to the next row; `${var}`, `$var` and
// `${var:text}` are replaced in titles and queries by the row's option, and constants everywhere. Values of a
// multi-value variable are regex-escaped in queries, as Grafana's Prometheus data source does.

/** The parts of a panel or row these tests read. */
export interface Panel {
    id: number;
    type: string;
    title: string;
    repeat?: string;
    collapsed?: boolean;
    panels?: Panel[];
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string }[];
    links?: { url: string }[];
    fieldConfig?: { defaults: { thresholds?: { steps: { value: number | null; color: string }[] } } };
}
export interface Variable {
    type: string;
    name: string;
    query: string;
    multi?: boolean;
    includeAll?: boolean;
    hide?: number;
}
export interface Model {
    uid: string;
    panels: Panel[];
    templating: { list: Variable[] };
}

/** A variable's option. */
export interface Option {
    text: string;
    value: string;
}

/** The options of a custom variable's query. */
export function customOptions(query: string): Option[] {
    return (query.match(/(?:\\,|[^,])+/g) ?? []).map((raw) => {
        const text = raw.replace(/\\,/g, ",");
        const pair = /^\s*(.+)\s:\s(.+)$/.exec(text);
        return pair ? { text: pair[1].trim(), value: pair[2].trim() } : { text: text.trim(), value: text.trim() };
    });
}

/** Grafana's Prometheus data source escapes a multi-value variable's value for a regex, in a PromQL string. */
const promRegexEscape = (v: string) => v.replace(/[\\^$*+?.()|{}[\]]/g, "\\\\$&");

/** `s` with the variable `name` replaced: `${name:text}` by `text`, `${name}` and `$name` by `value`. */
function substitute(s: string, name: string, text: string, value: string): string {
    return s.replace(new RegExp(`\\$\\{${name}:text\\}`, "g"), text).replace(new RegExp(`\\$\\{${name}\\}|\\$${name}\\b`, "g"), value);
}

/** A panel with `title` applied to its title and `query` to its queries. */
function mapText(p: Panel, title: (s: string) => string, query = title): Panel {
    return { ...p, title: title(p.title), ...(p.targets ? { targets: p.targets.map((t) => ({ ...t, expr: query(t.expr) })) } : {}) };
}

/** The dashboard as Grafana draws it with every variable at its default (All): repeated rows expanded, constants filled in. */
export function shown(m: Model): Model {
    const variables = new Map(m.templating.list.map((v) => [v.name, v]));
    const constants = m.templating.list.filter((v) => v.type === "constant");
    const fill = (s: string) => constants.reduce((acc, c) => substitute(acc, c.name, c.query, c.query), s);
    // Rows with the panels that follow them (a panel before the first row stands alone).
    const groups: { row?: Panel; panels: Panel[] }[] = [];
    for (const p of m.panels) {
        if (p.type === "row") {
            if (p.collapsed || (p.panels ?? []).length > 0) throw new Error(`collapsed row "${p.title}": not modelled`);
            groups.push({ row: p, panels: [] });
        } else {
            if (p.repeat) throw new Error(`panel "${p.title}" repeats: not modelled`);
            if (groups.length === 0) groups.push({ panels: [] });
            groups[groups.length - 1].panels.push(p);
        }
    }
    let id = Math.max(0, ...m.panels.map((p) => p.id));
    const out: Panel[] = [];
    for (const g of groups) {
        const repeat = g.row?.repeat;
        if (repeat === undefined) {
            out.push(...[...(g.row ? [g.row] : []), ...g.panels].map((p) => mapText(p, fill)));
            continue;
        }
        const v = variables.get(repeat);
        if (v?.type !== "custom") throw new Error(`row "${g.row?.title}" repeats over ${repeat}, not a custom variable`);
        for (const [n, o] of customOptions(v.query).entries()) {
            const escaped = v.multi || v.includeAll ? promRegexEscape(o.value) : o.value;
            // Grafana keeps the ids of the first copy and gives the others new ones.
            for (const p of [g.row as Panel, ...g.panels]) {
                const copy = mapText(
                    p,
                    (s) => fill(substitute(s, repeat, o.text, o.value)),
                    (s) => fill(substitute(s, repeat, o.text, escaped)),
                );
                out.push({ ...copy, id: n === 0 ? p.id : ++id, repeat: undefined });
            }
        }
    }
    return { ...m, panels: out };
}

/** The rows of a dashboard, each with the panels that follow it. */
export function rows(m: Model): { title: string; panels: Panel[] }[] {
    const out: { title: string; panels: Panel[] }[] = [];
    for (const p of m.panels) {
        if (p.type === "row") out.push({ title: p.title, panels: [] });
        else out[out.length - 1].panels.push(p);
    }
    return out;
}
