// The stacks whose alert rules are checked: the two example stacks, and edits of them that turn on every optional
// alert (in-tree CNPG backups, the off-site copy, scheduled drills, the coverage rule in both of its shapes).
// alertsArgsFor() is what program.ts hands BackupAlerts, derived from config alone; test/alerts.test.ts proves it
// renders exactly the rules the program renders, so the generated promtool cases test the real rules.
import { type AlertsArgs } from "../components/alerts";
import { type Config, parseConfig } from "../config";
import { plannedAlertsArgs } from "../program";
import { type Raw, stackConfig } from "./harness";

export interface AlertStack {
    name: string;
    stack: "aws" | "baremetal";
    edit: (raw: Raw) => void;
}

const namespacesOnly = { "daily-namespaces": { schedule: "0 2 * * *", ttl: "720h", includedNamespaces: ["rciis-prod", "monitoring"] } };

export const ALERT_STACKS: AlertStack[] = [
    { name: "baremetal", stack: "baremetal", edit: () => undefined },
    { name: "aws", stack: "aws", edit: () => undefined },
    {
        // In-tree CNPG backups (weekly), off-site copy, scheduled drills, namespace-only Velero: coverage by namespace.
        name: "baremetal, everything on",
        stack: "baremetal",
        edit: (raw) =>
            Object.assign(raw, {
                cnpg: { method: "barmanObjectStore", schedule: "0 0 2 * * 0" },
                drills: { enabled: true, schedule: "0 5 * * 0" },
                offsite: {
                    enabled: true,
                    destination: {
                        endpoint: "https://minio.dr.example.org",
                        region: "dr-1",
                        bucket: "rciis-dr",
                        credentialsSecret: { name: "dr-keys" },
                    },
                },
                velero: { schedules: namespacesOnly, snapshotStorageClasses: ["ceph-block"] },
            }),
    },
    {
        // A full-cluster schedule covers every namespace: the coverage rule then watches the StorageClasses only.
        name: "aws, snapshot StorageClasses listed",
        stack: "aws",
        edit: (raw) => Object.assign(raw, { velero: { ...(raw.velero as Raw), snapshotStorageClasses: ["gp3", "gp2"] } }),
    },
    {
        name: "baremetal, namespace-only Velero, any StorageClass",
        stack: "baremetal",
        edit: (raw) => Object.assign(raw, { velero: { schedules: namespacesOnly } }),
    },
];

/** The stack's config after its edit. */
export function alertStackConfig(s: AlertStack): Config {
    const raw = stackConfig(s.stack);
    s.edit(raw);
    return parseConfig(raw);
}

/** BackupAlerts' args for `cfg`, as program.ts plans them before registering anything (program.ts plannedAlertsArgs). */
export const alertsArgsFor = (cfg: Config): AlertsArgs => plannedAlertsArgs(cfg);
