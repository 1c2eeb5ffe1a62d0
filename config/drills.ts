// backup:drills.
import { z } from "zod";
import { cron5, dnsLabel, pinnedImage, resources } from "./formats";

export const drills = z
    .strictObject({
        /** Deploy drill templates (and on AWS read-only drill roles) for every database in `postgres`; `npm run drill` needs them. Default false. */
        enabled: z.boolean().default(false),
        /** In-cluster drill CronJob schedule, five fields, UTC. Default none: drills run only from `npm run drill`. */
        schedule: cron5.optional(),
        /** Databases the schedule drills. Default: every database in `postgres`. */
        databases: z.array(dnsLabel("a CNPG cluster name", 50)).default([]),
        /** Minutes a drill cluster may take to become healthy. Default 60. */
        timeoutMinutes: z
            .number()
            .int()
            .min(5)
            .max(24 * 60)
            .default(60),
        /** Image of the in-cluster drill runner (Node.js), pinned. Default node:22.12.0-alpine. */
        image: pinnedImage.default("node:22.12.0-alpine"),
        /** psql image for the check query. Default: the image of the recovered cluster itself. */
        checkImage: pinnedImage.optional(),
        /** Runner resources. Default 50m/64Mi requests, 200m/128Mi limits. */
        resources: resources.default({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } }),
    })
    .prefault({});
