// Removes compiled files in bin/ whose TypeScript source no longer exists. tsc's incremental build never
// deletes outputs, so after a module moves into a folder (components/mssql.ts -> components/mssql/index.ts)
// the old bin/components/mssql.js would still win Node's resolution over bin/components/mssql/index.js.
// Run by `npm run build` before tsc.
import * as fs from "node:fs";
import * as path from "node:path";
import * as process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "bin");
let removed = 0;

function walk(dir) {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            walk(full);
            if (fs.readdirSync(full).length === 0) fs.rmdirSync(full);
            continue;
        }
        const match = /^(.*)\.js(\.map)?$/.exec(entry.name);
        if (match === null) continue;
        const source = path.join(root, path.relative(bin, dir), `${match[1]}.ts`);
        if (!fs.existsSync(source)) {
            fs.rmSync(full);
            removed++;
        }
    }
}

if (fs.existsSync(bin)) walk(bin);
if (removed > 0) process.stdout.write(`build: removed ${removed} compiled file(s) whose source is gone\n`);
