// Quoting for T-SQL that sqlcmd runs. Every value that reaches a script goes through here: string
// literals become N'...' with ' doubled, identifiers [...] with ] doubled. Quoting is not enough
// under sqlcmd, which expands $(NAME) anywhere in the script, inside literals too, and ends a batch
// at a line reading GO: values containing "$(" or a line break are refused, never escaped (sqlcmd
// has no escape for "$(", and -x would also switch off the program's own variables).
// Pure: imports nothing of the project.

/** Thrown for a value that no quoting makes safe under sqlcmd. */
export class TsqlError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TsqlError";
    }
}

/**
 * A sqlcmd scripting variable the program itself references, e.g. $(BACKUP_STAMP). Only code can
 * make one (private constructor, checked by instanceof), so no config value can turn into one.
 */
export class SqlcmdVariable {
    private constructor(readonly name: string) {}

    static of(name: string): SqlcmdVariable {
        if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new TsqlError(`"${name}" is not a sqlcmd variable name (A-Z, 0-9, _)`);
        return new SqlcmdVariable(name);
    }

    toString(): string {
        return `$(${this.name})`;
    }
}

/** A piece of a literal: text (checked and escaped) or one of the program's own variables (emitted as is). */
export type Part = string | SqlcmdVariable;

/** SQL Server's sysname: identifiers are at most 128 characters. */
const MAX_IDENTIFIER = 128;

// Control characters (C0, DEL, C1: NUL, tab, CR, LF, ...), Unicode line and paragraph separators,
// and lone surrogates (which do not survive UTF-8 encoding of the script).
const UNSAFE_CHAR = /[\p{Cc}\p{Cs}\u2028\u2029]/u;

/**
 * Returns `value` when it can be quoted safely for sqlcmd; throws a TsqlError naming `what` otherwise.
 * Used on its own to check a value where the field's name makes the clearer message.
 */
export function assertSqlSafe(value: string, what: string): string {
    const shown = JSON.stringify(value);
    if (UNSAFE_CHAR.test(value)) {
        throw new TsqlError(`SQL Server ${what} ${shown} contains a control character or line break, which sqlcmd scripts cannot carry`);
    }
    if (value.includes("$(")) {
        throw new TsqlError(`SQL Server ${what} ${shown} contains "$(", which sqlcmd would expand as a variable, even inside quotes`);
    }
    return value;
}

/** N'...': a Unicode string literal; text parts are checked and their ' doubled, variables kept as $(NAME). */
export function sqlString(value: string | readonly Part[], what: string): string {
    const parts = typeof value === "string" ? [value] : value;
    // Adjacent text parts are joined before checking, so "$" + "(" cannot slip through separately.
    const merged: Part[] = [];
    for (const p of parts) {
        const last = merged[merged.length - 1];
        if (typeof p === "string" && typeof last === "string") merged[merged.length - 1] = last + p;
        else merged.push(p);
    }
    const body = merged.map((p) =>
        p instanceof SqlcmdVariable ? p.toString() : assertSqlSafe(checkText(p, what), what).replace(/'/g, "''"),
    );
    return `N'${body.join("")}'`;
}

/** [...]: a delimited identifier (database, credential), ] doubled; at most 128 characters, not empty. */
export function sqlIdentifier(value: string, what: string): string {
    checkText(value, what);
    if (value.length === 0 || value.length > MAX_IDENTIFIER) {
        throw new TsqlError(`SQL Server ${what} ${JSON.stringify(value)} must be 1 to ${MAX_IDENTIFIER} characters`);
    }
    return `[${assertSqlSafe(value, what).replace(/]/g, "]]")}]`;
}

/** Anything but a string or a program variable (a config object smuggled in as a part) is refused. */
function checkText(value: unknown, what: string): string {
    if (typeof value !== "string") throw new TsqlError(`SQL Server ${what} must be text, not ${typeof value}`);
    return value;
}
