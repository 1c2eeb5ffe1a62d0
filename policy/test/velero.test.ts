import * as velero from "../velero";
import * as fx from "./fixtures";
import { changed, expectOne } from "./harness";

const daily = ["props", "values", "schedules", "daily-namespaces"];

describe("velero policies", () => {
    describe("velero-schedule-ttl-required", () => {
        const policy = velero.veleroScheduleTtlRequired;
        it("passes the chart's schedules", () => expectOne(policy, fx.veleroChart()));
        it("passes a Schedule object", () => expectOne(policy, fx.veleroSchedule()));
        it("fails a chart schedule without ttl", () =>
            expectOne(
                policy,
                changed(fx.veleroChart(), [...daily, "template", "ttl"], undefined),
                /daily-namespaces: template.ttl is not set/,
            ));
        it("fails a Schedule object without ttl", () =>
            expectOne(policy, changed(fx.veleroSchedule(), ["props", "spec", "template", "ttl"], undefined), /not set/));
        it("fails a ttl that is not a Go duration", () =>
            expectOne(policy, changed(fx.veleroSchedule(), ["props", "spec", "template", "ttl"], "30d"), /not a Go duration/));
        it("accepts Go's long form", () =>
            expectOne(policy, changed(fx.veleroSchedule(), ["props", "spec", "template", "ttl"], "720h0m0s")));
        it("fails a ttl under the minimum", () =>
            expectOne(policy, changed(fx.veleroSchedule(), ["props", "spec", "template", "ttl"], "12h"), /under 24 hours/));
        it("takes the minimum from config", () =>
            expectOne(policy, { ...fx.veleroSchedule(), config: { minTtlHours: 1000 } }, /"720h" keeps backups under 1000 hours/));
        it("ignores charts other than Velero", () =>
            expectOne(
                policy,
                changed(changed(fx.veleroChart(), ["props", "chart"], "descheduler"), [...daily, "template", "ttl"], undefined),
            ));
    });

    describe("velero-schedule-five-field-cron", () => {
        const policy = velero.veleroScheduleFiveFieldCron;
        it("passes the chart's schedules", () => expectOne(policy, fx.veleroChart()));
        it("passes a descriptor", () => expectOne(policy, changed(fx.veleroSchedule(), ["props", "spec", "schedule"], "@every 24h")));
        it("fails a six-field (CNPG-style) schedule", () =>
            expectOne(policy, changed(fx.veleroChart(), [...daily, "schedule"], "0 0 2 * * *"), /six fields.*CloudNativePG/));
        it("fails a missing schedule", () =>
            expectOne(policy, changed(fx.veleroSchedule(), ["props", "spec", "schedule"], undefined), /not set/));
    });

    describe("velero-schedule-storage-location", () => {
        const policy = velero.veleroScheduleStorageLocation;
        it("passes explicit locations", () => expectOne(policy, fx.veleroChart()));
        it("flags a schedule without one", () =>
            expectOne(
                policy,
                changed(fx.veleroChart(), ["props", "values", "schedules", "weekly-full", "template", "storageLocation"], undefined),
                /weekly-full/,
            ));
    });

    describe("velero-chart-credentials-irsa-conflict", () => {
        const policy = velero.veleroChartCredentialsIrsaConflict;
        it("passes IRSA without a Secret (AWS)", () => expectOne(policy, fx.veleroChart()));
        it("passes a Secret without IRSA (bare metal)", () =>
            expectOne(
                policy,
                changed(
                    changed(fx.veleroChart(), ["props", "values", "credentials"], {
                        useSecret: true,
                        existingSecret: "velero-s3-credentials",
                    }),
                    ["props", "values", "serviceAccount"],
                    undefined,
                ),
            ));
        it("fails a Secret next to an IRSA role", () =>
            expectOne(
                policy,
                changed(fx.veleroChart(), ["props", "values", "credentials", "useSecret"], true),
                /useSecret is true and .*role-arn/,
            ));
    });
});
