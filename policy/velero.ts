// Velero: schedules are checked wherever they are declared: as velero.io Schedule objects (a real
// engine renders the chart) or inside the values of the Helm chart resource (what the mock render
// and the chart resource itself carry).
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { CRON_FIELD, at, configOf, cronFields, durationHours, forTypes, isObj, str, text } from "./util";

export const VELERO = {
    schedule: "kubernetes:velero.io/v1:Schedule",
    charts: ["kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart", "kubernetes:helm.sh/v3:Release"],
} as const;

const SCHEDULE_TYPES = [VELERO.schedule, ...VELERO.charts];

/** Shortest acceptable TTL by default: a backup that expires within a day may vanish before anyone looks. */
const TTL_DEFAULTS = { minTtlHours: 24 };

/** A Velero schedule, from either declaration. */
interface VeleroSchedule {
    where: string;
    schedule: unknown;
    template: unknown;
}

/** True when a Helm chart resource installs the Velero chart. */
export function isVeleroChart(args: { type: string; props: Record<string, unknown> }): boolean {
    return (VELERO.charts as readonly string[]).includes(args.type) && (str(args.props.chart) ?? "").includes("velero");
}

function schedulesOf(args: ResourceValidationArgs): VeleroSchedule[] {
    if (args.type === VELERO.schedule)
        return [
            {
                where: `Schedule ${str(at(args.props, "metadata", "name")) ?? args.name}`,
                schedule: at(args.props, "spec", "schedule"),
                template: at(args.props, "spec", "template"),
            },
        ];
    if (!isVeleroChart(args)) return [];
    const schedules = at(args.props, "values", "schedules");
    if (!isObj(schedules)) return [];
    return Object.entries(schedules).map(([name, s]) => ({
        where: `values.schedules.${name}`,
        schedule: at(s, "schedule"),
        template: at(s, "template"),
    }));
}

export const veleroScheduleTtlRequired: ResourceValidationPolicy = {
    name: "velero-schedule-ttl-required",
    description:
        "Velero schedules must set an explicit backup TTL of at least the configured minimum, so backups neither vanish early nor rely on a server default.",
    remediationSteps:
        'Set `template.ttl` as a Go duration in hours (e.g. "720h" for 30 days) on every schedule (`backup:velero.schedules.<name>.ttl`).',
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            minTtlHours: {
                type: "number",
                minimum: 0,
                default: TTL_DEFAULTS.minTtlHours,
                description: "Shortest acceptable backup TTL, in hours.",
            },
        },
    },
    validateResource: forTypes(SCHEDULE_TYPES, (args, report) => {
        const { minTtlHours } = configOf(args, TTL_DEFAULTS);
        for (const s of schedulesOf(args)) {
            const ttl = at(s.template, "ttl");
            const hours = typeof ttl === "string" ? durationHours(ttl) : undefined;
            if (ttl === undefined) report(`${s.where}: template.ttl is not set; backups silently get the server's default TTL.`);
            else if (hours === undefined) report(`${s.where}: template.ttl ${JSON.stringify(ttl)} is not a Go duration such as "720h".`);
            else if (hours < minTtlHours)
                report(`${s.where}: template.ttl ${JSON.stringify(ttl)} keeps backups under ${minTtlHours} hours.`);
        }
    }),
};

export const veleroScheduleFiveFieldCron: ResourceValidationPolicy = {
    name: "velero-schedule-five-field-cron",
    description:
        "Velero schedules must use standard five-field cron (minute first); Velero rejects a six-field value and the schedule never runs.",
    remediationSteps:
        'Write the schedule as "minute hour day-of-month month day-of-week" (e.g. "0 2 * * *"), or a descriptor such as "@daily".',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(SCHEDULE_TYPES, (args, report) => {
        for (const s of schedulesOf(args)) {
            const schedule = text(s.schedule);
            if (schedule === undefined) {
                report(`${s.where}: schedule is not set.`);
                continue;
            }
            const fields = cronFields(schedule);
            if (fields.length === 0) continue; // a descriptor such as @daily or @every 6h
            if (fields.length === 6)
                report(`${s.where}: schedule "${schedule}" has six fields (seconds first is CloudNativePG's format, not Velero's).`);
            else if (fields.length !== 5) report(`${s.where}: schedule "${schedule}" has ${fields.length} fields; Velero needs five.`);
            else if (!fields.every((f) => CRON_FIELD.test(f)))
                report(`${s.where}: schedule "${schedule}" has a field that is not cron syntax.`);
        }
    }),
};

export const veleroScheduleStorageLocation: ResourceValidationPolicy = {
    name: "velero-schedule-storage-location",
    description: "Velero schedules should name their backup storage location instead of relying on whichever location is the default.",
    remediationSteps: "Set `template.storageLocation` to the backup storage location the program creates (`default`).",
    enforcementLevel: "advisory",
    severity: "low",
    validateResource: forTypes(SCHEDULE_TYPES, (args, report) => {
        for (const s of schedulesOf(args))
            if (text(at(s.template, "storageLocation")) === undefined) report(`${s.where}: template.storageLocation is not set.`);
    }),
};

const IRSA_ANNOTATION = "eks.amazonaws.com/role-arn";

export const veleroChartCredentialsIrsaConflict: ResourceValidationPolicy = {
    name: "velero-chart-credentials-irsa-conflict",
    description: "The Velero chart must not mount a static credentials Secret while its service account also carries an IRSA role.",
    remediationSteps:
        "On EKS set `credentials.useSecret: false` and keep the role annotation; on bare metal keep the Secret and drop the annotation.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(VELERO.charts, (args, report) => {
        if (!isVeleroChart(args)) return;
        const values = args.props.values as unknown;
        const role = at(values, "serviceAccount", "server", "annotations", IRSA_ANNOTATION);
        if (at(values, "credentials", "useSecret") === true && text(role) !== undefined)
            report(
                `credentials.useSecret is true and serviceAccount.server.annotations["${IRSA_ANNOTATION}"] is set: ` +
                    "Velero gets two credential sources, and which one the AWS SDK picks depends on its chain order, so the role's scoping can be bypassed by the static keys.",
            );
    }),
};

export const veleroPolicies: ResourceValidationPolicy[] = [
    veleroScheduleTtlRequired,
    veleroScheduleFiveFieldCron,
    veleroScheduleStorageLocation,
    veleroChartCredentialsIrsaConflict,
];
