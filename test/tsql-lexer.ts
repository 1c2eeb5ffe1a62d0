// A small T-SQL tokenizer and sqlcmd checks for the injection tests: it reads a script the way SQL
// Server and sqlcmd would, so a test can tell whether a hostile value stayed inside its literal.

export type Token =
    /** N'...' or '...', value with '' undone. */
    | { kind: "string"; value: string }
    /** [...] with ]] undone, or "..." with "" undone. */
    | { kind: "ident"; value: string }
    /** A keyword or plain name, upper-cased. */
    | { kind: "word"; value: string }
    | { kind: "number"; value: string }
    | { kind: "punct"; value: string }
    | { kind: "comment"; value: string };

/** Reads a delimited token starting after its opening delimiter; a doubled `close` stands for one. */
function delimited(sql: string, start: number, close: string): { value: string; end: number } {
    let value = "";
    for (let i = start; i < sql.length; i++) {
        if (sql[i] !== close) {
            value += sql[i];
        } else if (sql[i + 1] === close) {
            value += close;
            i++;
        } else {
            return { value, end: i + 1 };
        }
    }
    throw new Error(`unterminated ${close} token starting at ${start - 1}: ${JSON.stringify(sql.slice(start - 1, start + 40))}`);
}

/** Tokenizes T-SQL; throws on an unterminated literal, identifier or comment. */
export function tokenize(sql: string): Token[] {
    const tokens: Token[] = [];
    let i = 0;
    while (i < sql.length) {
        const rest = sql.slice(i);
        const c = sql[i];
        let m: RegExpExecArray | null;
        if (/\s/.test(c)) {
            i++;
        } else if (rest.startsWith("--")) {
            const end = sql.indexOf("\n", i);
            tokens.push({ kind: "comment", value: sql.slice(i, end < 0 ? sql.length : end) });
            i = end < 0 ? sql.length : end;
        } else if (rest.startsWith("/*")) {
            const end = sql.indexOf("*/", i + 2);
            if (end < 0) throw new Error(`unterminated comment at ${i}`);
            tokens.push({ kind: "comment", value: sql.slice(i, end + 2) });
            i = end + 2;
        } else if (c === "'" || /^[Nn]'/.test(rest)) {
            const d = delimited(sql, i + (c === "'" ? 1 : 2), "'");
            tokens.push({ kind: "string", value: d.value });
            i = d.end;
        } else if (c === "[" || c === '"') {
            const d = delimited(sql, i + 1, c === "[" ? "]" : '"');
            tokens.push({ kind: "ident", value: d.value });
            i = d.end;
        } else if ((m = /^[A-Za-z_@#][A-Za-z0-9_@#$]*/.exec(rest))) {
            tokens.push({ kind: "word", value: m[0].toUpperCase() });
            i += m[0].length;
        } else if ((m = /^\d+(\.\d+)?/.exec(rest))) {
            tokens.push({ kind: "number", value: m[0] });
            i += m[0].length;
        } else {
            tokens.push({ kind: "punct", value: c });
            i++;
        }
    }
    return tokens;
}

/** Statements: token runs between semicolons (empty runs dropped). */
export function statements(tokens: Token[]): Token[][] {
    const out: Token[][] = [[]];
    for (const t of tokens) {
        if (t.kind === "punct" && t.value === ";") out.push([]);
        else out[out.length - 1].push(t);
    }
    return out.filter((s) => s.length > 0);
}

/** Every sqlcmd variable reference `$(NAME)` in the script (sqlcmd expands them anywhere, quoted or not), sorted. */
export function sqlcmdVariables(script: string): string[] {
    return [...script.matchAll(/\$\(([^)]*)\)?/g)].map((m) => m[0]).sort();
}

/** Lines sqlcmd itself acts on: batch separators (GO) and commands (:r, :setvar, :!!, !!, :exit, ...). */
export function sqlcmdCommands(script: string): string[] {
    return script.split("\n").filter((line) => /^\s*(go\b|:|!!)/i.test(line));
}
