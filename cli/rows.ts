// What the checks of `npm run verify` write (one Row per thing checked), and the readers of snapshot objects
// they share (cli/checks.ts, cli/cronjob-checks.ts).
import { type KubeObject } from "../kube/client";

export type Status = "OK" | "WARN" | "FAIL";

export interface Row {
    kind: "postgres" | "mssql" | "velero-location" | "velero-schedule" | "velero-backups" | "pvc" | "offsite" | "drill";
    /** namespace/name of the thing checked. */
    name: string;
    status: Status;
    /** Human explanation; the first problem found, or the facts when OK. */
    detail: string;
    /** Machine-readable facts (ages in seconds, timestamps). */
    facts: Record<string, string | number | boolean | null>;
}

export type Obj = Record<string, unknown>;
/** Readers of snapshot objects: metadata, spec, status, one object by namespace and name, a timestamp, an age, an instant. */
export const meta = (o: KubeObject) => o.metadata ?? {};
export const spec = (o: KubeObject) => (o.spec ?? {}) as Obj;
export const status = (o: KubeObject) => (o.status ?? {}) as Obj;
export const find = (list: KubeObject[], namespace: string, name: string) =>
    list.find((o) => meta(o).namespace === namespace && meta(o).name === name);
export const time = (v: unknown): number | undefined => (typeof v === "string" && !Number.isNaN(Date.parse(v)) ? Date.parse(v) : undefined);
export const hours = (seconds: number) => `${Math.round((seconds / 3600) * 10) / 10}h`;
export const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
