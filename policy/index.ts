// The CrossGuard pack: `pulumi preview --policy-pack policy` loads this (package.json "main", compiled
// to bin/index.js). Constructing the PolicyPack starts the analyzer server, so tests import ./policies.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("backup-platform", {
    description:
        "Guard rails for the backup platform's buckets, identities, object users, database backups, Velero schedules and workloads.",
    policies,
});
