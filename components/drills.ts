// Restore drills: per database, the drill template (how a temporary cluster restores from the
// database's archive, built by the same code as a declared recovery) and, on a schedule, an
// in-cluster CronJob that runs the drill with only the permissions it needs. The CronJob runs the
// drill runner (drill/, bundled by esbuild into one file by `npm run build`) from a ConfigMap on a
// pinned Node.js image: the code that runs is the code in this repository, reviewed with the stack.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { type Resources } from "../core/workloads";
import { type BackupTarget } from "../core/targets";
import { drillClusterSpec, needsOwnStore, sourceStoreName, sourceStoreSpec, type BackupMethod } from "./cnpg";
import { cronJobPolicy } from "../core/cronjob";
import { owned } from "../core/ownership";
import {
    DRILL_LABEL,
    drillCheckJobName,
    drillClusterName,
    drillCronJobName,
    drillReportName,
    drillTemplateName,
    objectStoreName,
    PART_OF,
    recoveryJobName,
} from "../core/names";
import { type DrillTemplate } from "../core/drill";
import { ScheduledJob } from "../core/jobs";

/** ServiceAccount, Role and RoleBinding of a database's drill runner. */
export const drillRunnerName = (database: string): string => `${database}-drill-runner`;
/** ConfigMap with the runner's code, one per namespace. */
export const RUNNER_CONFIGMAP = "backup-drill-runner";
/** The official Node.js images' non-root user. */
const NODE_UID = 1000;
/** The bundle's file name, in the ConfigMap and in the container. */
export const RUNNER_FILE = "runner.js";

/** The project root: the nearest folder above this file (compiled or not) with a package.json. */
function projectRoot(from = __dirname): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "package.json"))) return dir;
        if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
    }
}

/** The runner's code: drill/ bundled by esbuild into one file (`npm run build`). */
export function runnerCode(file = path.join(projectRoot(), "drill", "dist", RUNNER_FILE)): Record<string, string> {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before deploying restore drills`);
    return { [RUNNER_FILE]: fs.readFileSync(file, "utf8") };
}

/** The drill runner's permissions in its database's namespace: its own objects by name, create where names cannot be restricted. */
export function runnerRules(database: string, method: BackupMethod): k8s.types.input.rbac.v1.PolicyRule[] {
    const cluster = drillClusterName(database);
    return [
        { apiGroups: ["postgresql.cnpg.io"], resources: ["clusters"], verbs: ["create"] },
        // The source (image, storage, recovery window) and the drill cluster.
        { apiGroups: ["postgresql.cnpg.io"], resources: ["clusters"], resourceNames: [database, cluster], verbs: ["get"] },
        { apiGroups: ["postgresql.cnpg.io"], resources: ["clusters"], resourceNames: [cluster], verbs: ["delete"] },
        ...(method === "plugin"
            ? [
                  {
                      apiGroups: ["barmancloud.cnpg.io"],
                      resources: ["objectstores"],
                      resourceNames: [objectStoreName(database)],
                      verbs: ["get"],
                  },
              ]
            : []),
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] },
        {
            apiGroups: ["batch"],
            resources: ["jobs"],
            resourceNames: [drillCheckJobName(database), recoveryJobName(cluster)],
            verbs: ["get"],
        },
        { apiGroups: ["batch"], resources: ["jobs"], resourceNames: [drillCheckJobName(database)], verbs: ["delete"] },
        { apiGroups: [""], resources: ["configmaps"], resourceNames: [drillTemplateName(database)], verbs: ["get"] },
        // The report is written by server-side apply: `patch`, and `create` the first time (an apply that creates is
        // authorized as `create` of that name, so the name restricts it; a real API server refused the report without it).
        { apiGroups: [""], resources: ["configmaps"], resourceNames: [drillReportName(database)], verbs: ["get", "patch", "create"] },
    ];
}

export interface RestoreDrillsArgs {
    /** Every database that can be drilled (a template each). */
    readonly databases: readonly { readonly name: string; readonly namespace: string }[];
    /** How each database's drill cluster reads its archive (targets.drills). */
    readonly readers: Readonly<Record<string, BackupTarget>>;
    /** The databases' backup method. */
    readonly method: BackupMethod;
    /** The databases' retention (e.g. 30d), which a drill's own ObjectStore repeats. Default 30d. */
    readonly retention?: string;
    /** Five-field cron, UTC; none = no CronJobs (drills only from `npm run drill`). */
    readonly schedule?: string;
    /** Databases the schedule drills; empty = all. */
    readonly scheduled: readonly string[];
    /** Minutes a drill cluster may take to become healthy. */
    readonly timeoutMinutes: number;
    /** Node.js image of the runner, pinned. */
    readonly image: string;
    /** psql image of the check; default the recovered cluster's image. */
    readonly checkImage?: string;
    /** Runner resources. */
    readonly resources: Resources;
}

/** Per database: the CronJob namespace/name, when scheduled, and the template. */
export interface DrillOutput {
    template: string;
    cronJob?: string;
}

/** A database that can be drilled. */
type Database = RestoreDrillsArgs["databases"][number];

/** The labels of a database's drill objects. */
const drillLabels = (db: string) => ({ ...PART_OF, [DRILL_LABEL]: db });

/** The pod of a scheduled drill: the runner from its ConfigMap, as the database's drill runner, with nothing else. */
function drillPod(db: Database, args: RestoreDrillsArgs, timeoutSeconds: number): k8s.types.input.core.v1.PodSpec {
    return {
        serviceAccountName: drillRunnerName(db.name),
        restartPolicy: "Never",
        terminationGracePeriodSeconds: 120,
        securityContext: {
            runAsNonRoot: true,
            runAsUser: NODE_UID,
            runAsGroup: NODE_UID,
            seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
            {
                name: "drill",
                image: args.image,
                command: ["node", `/drill/${RUNNER_FILE}`],
                env: [
                    { name: "DRILL_NAMESPACE", value: db.namespace },
                    { name: "DRILL_DATABASE", value: db.name },
                    { name: "DRILL_TIMEOUT_SECONDS", value: String(timeoutSeconds) },
                    ...(args.checkImage !== undefined ? [{ name: "DRILL_CHECK_IMAGE", value: args.checkImage }] : []),
                ],
                resources: args.resources,
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                volumeMounts: [{ name: "code", mountPath: "/drill", readOnly: true }],
            },
        ],
        volumes: [{ name: "code", configMap: { name: RUNNER_CONFIGMAP } }],
    };
}

export class RestoreDrills extends pulumi.ComponentResource {
    public readonly drills: Record<string, DrillOutput> = {};
    /** Scheduled drill CronJobs, for alerts. */
    public readonly cronJobs: ScheduledJob[] = [];

    constructor(name: string, args: RestoreDrillsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:RestoreDrills", name, {}, opts);
        // Sorted by name: list order in the config never shows in what is deployed (rules, outputs).
        const databases = [...args.databases].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        const scheduled =
            args.schedule === undefined ? [] : databases.filter((db) => args.scheduled.length === 0 || args.scheduled.includes(db.name));
        const runners = this.runnerConfigMaps(name, scheduled);
        for (const db of databases) this.template(name, db, args);
        for (const db of scheduled) {
            const binding = this.runnerIdentity(name, db, args.method);
            this.drillCronJob(name, db, args, args.schedule as string, [binding, runners.get(db.namespace) as pulumi.Resource]);
        }
        this.registerOutputs({ drills: this.drills });
    }

    /** The runner's code, one ConfigMap per namespace with scheduled drills (none: the bundle is not needed). */
    private runnerConfigMaps(name: string, scheduled: readonly Database[]): Map<string, pulumi.Resource> {
        const runners = new Map<string, pulumi.Resource>();
        if (scheduled.length > 0) {
            const code = runnerCode();
            for (const ns of [...new Set(scheduled.map((db) => db.namespace))].sort()) {
                runners.set(
                    ns,
                    new k8s.core.v1.ConfigMap(
                        `${name}-${ns}-runner-code`,
                        {
                            metadata: owned({
                                name: RUNNER_CONFIGMAP,
                                namespace: ns,
                                labels: PART_OF,
                            }),
                            data: code,
                        },
                        { parent: this },
                    ),
                );
            }
        }
        return runners;
    }

    /** A database's drill template, and the ObjectStore its drill cluster reads through when it needs its own. */
    private template(name: string, db: Database, args: RestoreDrillsArgs): void {
        const reader = args.readers[db.name];
        if (reader === undefined) throw new Error(`no drill reader for ${db.name}`);
        const store =
            args.method === "plugin" && needsOwnStore(reader)
                ? this.sourceStore(name, db, reader, args.retention ?? "30d", drillLabels(db.name))
                : undefined;
        // Typed so the runner's reader and this writer agree; Outputs inside (an IRSA role ARN) resolve in jsonStringify.
        const template: { [K in keyof DrillTemplate]: pulumi.Input<DrillTemplate[K]> } = {
            database: db.name,
            method: args.method,
            spec: drillClusterSpec(db.name, reader, args.method, store ? sourceStoreName(drillClusterName(db.name)) : undefined),
        };
        new k8s.core.v1.ConfigMap(
            `${name}-${db.name}-template`,
            {
                metadata: owned({ name: drillTemplateName(db.name), namespace: db.namespace, labels: drillLabels(db.name) }),
                data: { "template.json": pulumi.jsonStringify(template) },
            },
            { parent: this, dependsOn: [...reader.dependsOn, ...(store ? [store] : [])] },
        );
        this.drills[db.name] = { template: `${db.namespace}/${drillTemplateName(db.name)}` };
    }

    /** The drill runner's ServiceAccount, Role and RoleBinding; returns the binding, which the CronJob waits for. */
    private runnerIdentity(name: string, db: Database, method: BackupMethod): pulumi.Resource {
        const runner = drillRunnerName(db.name);
        const meta = owned({ name: runner, namespace: db.namespace, labels: drillLabels(db.name) });
        const sa = new k8s.core.v1.ServiceAccount(`${name}-${db.name}-runner`, { metadata: meta }, { parent: this });
        const role = new k8s.rbac.v1.Role(
            `${name}-${db.name}-runner`,
            { metadata: meta, rules: runnerRules(db.name, method) },
            { parent: this },
        );
        return new k8s.rbac.v1.RoleBinding(
            `${name}-${db.name}-runner`,
            {
                metadata: meta,
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: runner },
                subjects: [{ kind: "ServiceAccount", name: runner, namespace: db.namespace }],
            },
            { parent: this, dependsOn: [sa, role] },
        );
    }

    /** The CronJob that drills a database on `schedule`, after `dependsOn` (its RoleBinding and the runner's code). */
    private drillCronJob(name: string, db: Database, args: RestoreDrillsArgs, schedule: string, dependsOn: pulumi.Resource[]): void {
        const timeoutSeconds = args.timeoutMinutes * 60;
        const cronJob = drillCronJobName(db.name);
        new k8s.batch.v1.CronJob(
            `${name}-${db.name}`,
            {
                metadata: owned({ name: cronJob, namespace: db.namespace, labels: drillLabels(db.name) }),
                spec: {
                    ...cronJobPolicy(schedule, 3600),
                    jobTemplate: {
                        metadata: { labels: drillLabels(db.name) },
                        spec: {
                            // A failed drill is a finding, not something to retry quietly.
                            backoffLimit: 0,
                            // Recovery, check and cleanup; at the deadline the runner gets SIGTERM and still cleans up.
                            activeDeadlineSeconds: timeoutSeconds + 900,
                            ttlSecondsAfterFinished: 7 * 86400,
                            template: { metadata: { labels: drillLabels(db.name) }, spec: drillPod(db, args, timeoutSeconds) },
                        },
                    },
                },
            },
            { parent: this, dependsOn },
        );
        this.drills[db.name] = { ...this.drills[db.name], cronJob: `${db.namespace}/${cronJob}` };
        this.cronJobs.push({ namespace: db.namespace, cronJob, schedule });
    }

    /** The drill cluster's own ObjectStore, carrying the read-only keys (the source's carries its writer's). */
    private sourceStore(
        name: string,
        db: Database,
        reader: BackupTarget,
        retention: string,
        labels: Record<string, string>,
    ): pulumi.Resource {
        return new k8s.apiextensions.CustomResource(
            `${name}-${db.name}-source`,
            {
                apiVersion: "barmancloud.cnpg.io/v1",
                kind: "ObjectStore",
                metadata: owned({ name: sourceStoreName(drillClusterName(db.name)), namespace: db.namespace, labels }),
                spec: sourceStoreSpec(reader, retention),
            },
            { parent: this, dependsOn: reader.dependsOn },
        );
    }
}
