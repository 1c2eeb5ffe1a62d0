import * as assert from "assert";
import Ajv from "ajv";
import * as fs from "fs";
import { chartValues, fixture, render, type Raw, type Rendered } from "./harness";

type Obj = Record<string, unknown>;
const CHART = "kubernetes:helm.sh/v4:Chart";

const validate = new Ajv({ strict: false, allErrors: true }).compile(
    JSON.parse(fs.readFileSync(fixture("schemas/velero-chart-11.3.2.values.schema.json"), "utf8")) as object,
);

/**
 * Helm validates the chart's own defaults merged with ours. The chart's values.yaml is not available
 * offline, so this stands in for it: exactly the keys the schema marks required, with their types.
 */
const CHART_DEFAULTS: Obj = {
    image: { repository: "velero/velero", tag: "v1.17.0", pullPolicy: "IfNotPresent" },
    upgradeCRDsJob: { automountServiceAccountToken: true },
    dnsPolicy: "ClusterFirst",
    metrics: {
        enabled: true,
        service: {},
        podAnnotations: {},
        serviceMonitor: { autodetect: true, enabled: false },
        nodeAgentPodMonitor: { autodetect: true, enabled: false },
        prometheusRule: { autodetect: true, enabled: false },
    },
    kubectl: { image: { repository: "docker.io/bitnami/kubectl" } },
    configuration: { backupStorageLocation: [], volumeSnapshotLocation: [] },
    rbac: { create: true, clusterAdministrator: true, clusterAdministratorName: "cluster-admin" },
    serviceAccount: { server: { create: true, automountServiceAccountToken: true } },
    credentials: { useSecret: true },
    configMaps: {},
    nodeAgent: { podVolumePath: "/var/lib/kubelet/pods", dnsPolicy: "ClusterFirst" },
};

/** Helm's merge: maps merge key by key, everything else (lists included) is replaced. */
function helmMerge(base: unknown, over: unknown): unknown {
    const isMap = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
    if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = helmMerge(base[k], v);
    return out;
}

const validChart = (values: Obj) => validate(helmMerge(CHART_DEFAULTS, values));

/** Shapes the 11.x chart refuses or that belong to older charts. */
function refusedShapes(values: Obj): string[] {
    const problems: string[] = [];
    const conf = (values.configuration ?? {}) as Obj;
    if (!Array.isArray(conf.backupStorageLocation)) problems.push("backupStorageLocation is not a list");
    if (!Array.isArray(conf.volumeSnapshotLocation)) problems.push("volumeSnapshotLocation is not a list");
    if ("provider" in conf) problems.push("configuration.provider");
    const text = JSON.stringify(values);
    for (const restic of ["restic", "Restic"]) if (text.includes(restic)) problems.push(`restic-era key (${restic})`);
    return problems;
}

/**
 * What Pod Security `restricted` checks on the fields the program sets (the pod-level context and each container's),
 * as the admission plugin reads them; resource limits are this project's rule, not the standard's.
 */
function restrictedProblems(pod: Obj, containers: Obj[]): string[] {
    const problems: string[] = [];
    const seccomp = (ctx: Obj | undefined) => (ctx?.seccompProfile as Obj | undefined)?.type;
    if (pod.runAsNonRoot !== true && !containers.every((c) => (c.securityContext as Obj | undefined)?.runAsNonRoot === true))
        problems.push("pod: runAsNonRoot is not true");
    if (seccomp(pod) !== "RuntimeDefault" && seccomp(pod) !== "Localhost") problems.push("pod: seccompProfile is not RuntimeDefault");
    for (const c of containers) {
        const ctx = (c.securityContext ?? {}) as Obj;
        const caps = (ctx.capabilities ?? {}) as { drop?: string[]; add?: string[] };
        if (ctx.allowPrivilegeEscalation !== false) problems.push(`${String(c.name)}: allowPrivilegeEscalation is not false`);
        if (!(caps.drop ?? []).includes("ALL")) problems.push(`${String(c.name)}: capabilities do not drop ALL`);
        if ((caps.add ?? []).some((a) => a !== "NET_BIND_SERVICE")) problems.push(`${String(c.name)}: adds capabilities`);
        if (ctx.privileged === true || ctx.runAsUser === 0) problems.push(`${String(c.name)}: privileged or root`);
        const limits = (c.resources as { limits?: Obj } | undefined)?.limits;
        if (limits?.cpu === undefined || limits.memory === undefined) problems.push(`${String(c.name)}: no cpu/memory limits`);
    }
    return problems;
}

describe("velero", () => {
    const profiles: [string, boolean][] = [
        ["aws", true],
        ["aws", false],
        ["baremetal", true],
        ["baremetal", false],
    ];
    const rendered = new Map<string, Rendered>();
    before(async () => {
        for (const [stack, ha] of profiles) rendered.set(`${stack}/${ha}`, await render(stack, (raw) => (raw.ha = ha)));
    });
    const values = (stack: string, ha = true) => chartValues(rendered.get(`${stack}/${ha}`) as Rendered, "velero");

    for (const [stack, ha] of profiles) {
        it(`${stack} ${ha ? "HA" : "non-HA"} values validate against the chart 11.3.2 schema and avoid refused shapes`, () => {
            const v = values(stack, ha);
            assert.ok(validChart(v), JSON.stringify(validate.errors, null, 2));
            assert.deepStrictEqual(refusedShapes(v), []);
        });
    }

    for (const [stack, ha] of profiles) {
        it(`${stack} ${ha ? "HA" : "non-HA"}: every container of the Velero pod meets Pod Security restricted, with limits`, () => {
            const v = values(stack, ha);
            const problems = restrictedProblems(v.podSecurityContext as Obj, [
                ...(v.initContainers as Obj[]),
                { name: "velero", securityContext: v.containerSecurityContext, resources: v.resources },
            ]);
            assert.deepStrictEqual(problems, []);
            // The init container's context is the server's, not a weaker copy of it.
            assert.deepStrictEqual((v.initContainers as Obj[])[0].securityContext, v.containerSecurityContext);
        });
    }

    it("the restricted check itself catches the chart's bare init container", () => {
        const v = values("aws");
        const bare = { name: "velero-plugin-for-aws", image: "velero/velero-plugin-for-aws:v1.13.0" };
        assert.deepStrictEqual(restrictedProblems(v.podSecurityContext as Obj, [bare]), [
            "velero-plugin-for-aws: allowPrivilegeEscalation is not false",
            "velero-plugin-for-aws: capabilities do not drop ALL",
            "velero-plugin-for-aws: no cpu/memory limits",
        ]);
        const strict = { name: "velero", securityContext: v.containerSecurityContext, resources: v.resources };
        assert.deepStrictEqual(restrictedProblems({}, [strict]), [
            "pod: runAsNonRoot is not true",
            "pod: seccompProfile is not RuntimeDefault",
        ]);
    });

    it("the schema check itself rejects a wrong shape", () => {
        const broken = { ...values("aws"), snapshotsEnabled: "no", configuration: { backupStorageLocation: { default: {} } } };
        assert.ok(!validChart(broken));
        assert.deepStrictEqual(
            refusedShapes({ configuration: { provider: "aws", backupStorageLocation: {}, volumeSnapshotLocation: [] } }),
            ["backupStorageLocation is not a list", "configuration.provider"],
        );
    });

    it("installs the pinned chart into the velero namespace it creates, with the seeds' base values", () => {
        const r = rendered.get("baremetal/true") as Rendered;
        const chart = r.get(CHART, "velero");
        assert.deepStrictEqual([chart.inputs.chart, chart.inputs.version, chart.inputs.namespace], ["velero", "11.3.2", "velero"]);
        assert.deepStrictEqual(chart.inputs.repositoryOpts, { repo: "https://vmware-tanzu.github.io/helm-charts" });
        assert.ok(chart.options.dependsOn?.includes("kubernetes:core/v1:Namespace::velero"));
        const v = values("baremetal");
        assert.deepStrictEqual(v.initContainers, [
            {
                name: "velero-plugin-for-aws",
                image: "velero/velero-plugin-for-aws:v1.13.0",
                imagePullPolicy: "IfNotPresent",
                volumeMounts: [{ mountPath: "/target", name: "plugins" }],
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
            },
        ]);
        const conf = v.configuration as Obj;
        assert.strictEqual(conf.features, "EnableCSI");
        assert.deepStrictEqual(conf.volumeSnapshotLocation, []);
        assert.strictEqual(v.snapshotsEnabled, false, "no snapshot location: snapshots disabled");
        assert.strictEqual(v.upgradeCRDs, false, "CRD upgrades must not depend on the chart's hook Job");
        assert.strictEqual(v.deployNodeAgent, false);
        assert.deepStrictEqual(v.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } });
        assert.deepStrictEqual(v.kubectl, { image: { repository: "public.ecr.aws/bitnami/kubectl" } });
    });

    it("on AWS authenticates by IRSA: the role ARN reaches the service account annotation, no Secret", () => {
        const r = rendered.get("aws/true") as Rendered;
        const v = values("aws");
        assert.deepStrictEqual(v.credentials, { useSecret: false });
        const role = r.get("aws:iam/role:Role", "backup-velero");
        assert.deepStrictEqual(v.serviceAccount, {
            server: {
                create: true,
                name: "velero-server",
                annotations: { "eks.amazonaws.com/role-arn": `arn:aws:iam::123456789012:role/backup/${role.name}` },
            },
        });
        const [bsl] = (v.configuration as { backupStorageLocation: Obj[] }).backupStorageLocation;
        assert.deepStrictEqual(bsl, {
            name: "default",
            provider: "aws",
            bucket: "rciis-aws-velero-backups",
            default: true,
            config: { region: "af-south-1" },
        });
        assert.deepStrictEqual(v.resources, { requests: { cpu: "25m", memory: "64Mi" }, limits: { cpu: "250m", memory: "256Mi" } });
        assert.ok(r.get(CHART, "velero").options.dependsOn?.includes("aws:iam/rolePolicyAttachment:RolePolicyAttachment::backup-velero"));
    });

    it("on bare metal reads the credentials Secret and talks path-style to RGW without CRC32 checksums", () => {
        const r = rendered.get("baremetal/true") as Rendered;
        const v = values("baremetal");
        assert.deepStrictEqual(v.credentials, { useSecret: true, existingSecret: "velero-s3-credentials" });
        assert.deepStrictEqual(v.serviceAccount, { server: { create: true, name: "velero-server" } });
        const [bsl] = (v.configuration as { backupStorageLocation: Obj[] }).backupStorageLocation;
        assert.deepStrictEqual(bsl, {
            name: "default",
            provider: "aws",
            bucket: "velero-backups",
            default: true,
            config: {
                region: "rciis-kenya",
                s3ForcePathStyle: "true",
                s3Url: "http://rook-ceph-rgw-ceph-objectstore.rook-ceph.svc.cluster.local:80",
                checksumAlgorithm: "",
            },
        });
        const deps = r.get(CHART, "velero").options.dependsOn ?? [];
        assert.ok(deps.includes("kubernetes:core/v1:Secret::backup-velero-velero"), deps.join());
        // Not the bucket claim: Pulumi does not wait for it to be Bound, so ordering after it guaranteed nothing.
        assert.ok(!deps.some((d) => d.includes("ObjectBucketClaim")), deps.join());
    });

    it("adds the CA bundle for an https endpoint", async () => {
        const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const r = await render("baremetal", (raw) =>
            Object.assign(raw.baremetal as Raw, { endpoint: "https://rgw.example:443", caBundle: pem }),
        );
        const [bsl] = (chartValues(r, "velero").configuration as { backupStorageLocation: Obj[] }).backupStorageLocation;
        assert.strictEqual(bsl.caCert, Buffer.from(pem).toString("base64"));
        assert.strictEqual((bsl.config as Obj).s3Url, "https://rgw.example:443");
    });

    it("HA: schedules from config, strict security contexts, ServiceMonitor for release prometheus", () => {
        const v = values("baremetal");
        assert.deepStrictEqual(v.schedules, {
            "daily-namespaces": {
                disabled: false,
                schedule: "0 2 * * *",
                useOwnerReferencesInBackup: false,
                template: {
                    ttl: "720h",
                    storageLocation: "default",
                    includedNamespaces: ["rciis-prod", "monitoring", "strimzi-operator", "cnpg-system"],
                    snapshotMoveData: false,
                },
            },
            "weekly-full": {
                disabled: false,
                schedule: "0 3 * * 0",
                useOwnerReferencesInBackup: false,
                template: { ttl: "2160h", storageLocation: "default", includeClusterResources: true, snapshotMoveData: false },
            },
        });
        assert.deepStrictEqual(v.podSecurityContext, {
            runAsNonRoot: true,
            runAsUser: 65534,
            runAsGroup: 65534,
            seccompProfile: { type: "RuntimeDefault" },
        });
        assert.deepStrictEqual(v.containerSecurityContext, {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
        });
        assert.deepStrictEqual(v.metrics, {
            enabled: true,
            serviceMonitor: { enabled: true, additionalLabels: { release: "prometheus" } },
        });
    });

    it("non-HA: no schedules, ServiceMonitor off, metrics still on, still non-root", () => {
        const v = values("aws", false);
        assert.deepStrictEqual(v.schedules, {});
        assert.deepStrictEqual(v.metrics, {
            enabled: true,
            serviceMonitor: { enabled: false, additionalLabels: { release: "prometheus" } },
        });
        assert.deepStrictEqual((v.podSecurityContext as Obj).runAsNonRoot, true);
    });

    it("takes schedule lists and TTLs from config", async () => {
        const r = await render("aws", (raw) => {
            (raw.velero as Raw).schedules = { hourly: { schedule: "0 * * * *", ttl: "48h", includedNamespaces: ["rciis-aws"] } };
        });
        assert.deepStrictEqual(Object.keys(chartValues(r, "velero").schedules as Obj), ["hourly"]);
        const hourly = (chartValues(r, "velero").schedules as Record<string, { template: Obj }>).hourly;
        assert.deepStrictEqual([hourly.template.ttl, hourly.template.includedNamespaces], ["48h", ["rciis-aws"]]);
    });

    it("node agent and data movement: a generated kopia password, retained, never the default", async () => {
        const r = await render("baremetal", (raw) => Object.assign(raw, { velero: { nodeAgent: true, snapshotMoveData: true } }));
        const v = chartValues(r, "velero");
        assert.strictEqual(v.deployNodeAgent, true);
        assert.ok(Object.values(v.schedules as Record<string, { template: Obj }>).every((s) => s.template.snapshotMoveData === true));
        const secret = r.get("kubernetes:core/v1:Secret", "velero-repo-credentials");
        assert.deepStrictEqual(secret.inputs.metadata, { name: "velero-repo-credentials", namespace: "velero" });
        assert.strictEqual(secret.inputs.stringData, "[secret]");
        assert.strictEqual(secret.options.retainOnDelete, true);
        assert.ok(secret.options.dependsOn?.includes("random:index/randomPassword:RandomPassword::velero-repo-password"));
        assert.ok(r.get(CHART, "velero").options.dependsOn?.includes("kubernetes:core/v1:Secret::velero-repo-credentials"));
        const off = rendered.get("baremetal/true") as Rendered;
        assert.strictEqual(off.all("kubernetes:core/v1:Secret").filter((s) => s.name === "velero-repo-credentials").length, 0);
    });

    it("node agent: bounded resources by default, from config when set, validated against the chart 11.3.2 schema", async () => {
        assert.strictEqual(values("baremetal").nodeAgent, undefined, "no node agent, no node agent values");
        const defaults = chartValues(await render("baremetal", (raw) => Object.assign(raw, { velero: { nodeAgent: true } })), "velero");
        assert.deepStrictEqual(defaults.nodeAgent, {
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1000m", memory: "1Gi" } },
        });
        assert.ok(validChart(defaults), JSON.stringify(validate.errors, null, 2));
        const own = { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "2", memory: "2Gi" } };
        const set = chartValues(
            await render("aws", (raw) => Object.assign(raw, { velero: { nodeAgent: true, nodeAgentResources: own } })),
            "velero",
        );
        assert.deepStrictEqual(set.nodeAgent, { resources: own });
        assert.ok(validChart(set), JSON.stringify(validate.errors, null, 2));
        // The chart's DaemonSet takes its container resources from exactly this key.
        const template = fs.readFileSync(fixture("charts/velero-11.3.2/templates/node-agent-daemonset.yaml"), "utf8");
        assert.match(template, /\{\{- with \.Values\.nodeAgent\.resources \}\}\s*resources:/);
    });

    it("refuses node agent resources that are not quantities, naming the key, before registering anything", async () => {
        await assert.rejects(
            () =>
                render("baremetal", (raw) =>
                    Object.assign(raw, {
                        velero: {
                            nodeAgent: true,
                            nodeAgentResources: { requests: { cpu: "lots", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } },
                        },
                    }),
                ),
            (err: Error & { registered?: number }) => {
                assert.match(err.message, /backup:velero\.nodeAgentResources\.requests\.cpu: a quantity like 100m, 128Mi or 1Gi/);
                assert.strictEqual(err.registered, 0);
                return true;
            },
        );
    });

    it("keeps a configured repository password (secret config) instead of generating one", async () => {
        const kept = "0123456789-the-old-repository-password";
        const nodeAgent = (raw: Raw) => Object.assign(raw, { velero: { nodeAgent: true } });
        const r = await render("baremetal", nodeAgent, true, { veleroRepositoryPassword: kept });
        assert.strictEqual(r.all("random:index/randomPassword:RandomPassword").filter((p) => p.name === "velero-repo-password").length, 0);
        const secret = r.get("kubernetes:core/v1:Secret", "velero-repo-credentials");
        assert.deepStrictEqual(secret.inputs.stringData, { secret: { "repository-password": kept } });
        assert.strictEqual(secret.options.retainOnDelete, true);
        // Masked in what reviewers see, and nowhere in the render in plaintext.
        const masked = await render("baremetal", nodeAgent, false, { veleroRepositoryPassword: kept });
        assert.strictEqual(masked.get("kubernetes:core/v1:Secret", "velero-repo-credentials").inputs.stringData, "[secret]");
        assert.ok(!JSON.stringify(masked).includes(kept));
    });

    it("refuses a repository password that is not a secret, or without the node agent, without echoing it", async () => {
        const kept = "0123456789-the-old-repository-password";
        await assert.rejects(
            () => render("baremetal", (raw) => Object.assign(raw, { velero: { nodeAgent: true }, veleroRepositoryPassword: kept })),
            (err: Error) => {
                assert.match(err.message, /backup:veleroRepositoryPassword: must be a secret; set it with `pulumi config set --secret/);
                assert.ok(!err.message.includes(kept));
                return true;
            },
        );
        await assert.rejects(
            () => render("baremetal", () => undefined, false, { veleroRepositoryPassword: kept }),
            (err: Error) => {
                assert.match(err.message, /backup:veleroRepositoryPassword: needs backup:velero\.nodeAgent: true/);
                assert.ok(!err.message.includes(kept));
                return true;
            },
        );
    });

    it("refuses data movement without the node agent", async () => {
        await assert.rejects(
            () => render("baremetal", (raw) => Object.assign(raw, { velero: { snapshotMoveData: true } })),
            /backup:velero\.snapshotMoveData: needs backup:velero\.nodeAgent: true/,
        );
    });

    it("crds: job: a restricted, bounded Job applies the server's own CRDs before the chart, which skips its crds/", async () => {
        const KUBECTL = "docker.io/bitnamilegacy/kubectl:1.35.4";
        for (const stack of ["aws", "baremetal"]) {
            const r = await render(stack, (raw) =>
                Object.assign(raw, { velero: { ...(raw.velero as Obj | undefined), crds: "job", kubectlImage: KUBECTL } }),
            );
            const chart = r.get(CHART, "velero");
            assert.strictEqual(chart.inputs.skipCrds, true, `${stack}: the crds/ folder is not rendered`);
            assert.ok(chart.options.dependsOn?.includes("kubernetes:batch/v1:Job::velero-upgrade-crds"), "the chart waits for the Job");
            const v = chartValues(r, "velero");
            assert.ok(validChart(v), JSON.stringify(validate.errors, null, 2));
            assert.strictEqual(v.upgradeCRDs, false, "the chart's own hook Job is not rendered");
            assert.deepStrictEqual(v.image, { repository: "velero/velero", tag: "v1.17.1" });
            assert.ok("backup.platform/crds-applied-by" in (v.podAnnotations as Obj), "the server's pods name the Job");

            const job = r.get("kubernetes:batch/v1:Job", "velero-upgrade-crds").inputs as Obj;
            assert.deepStrictEqual((job.metadata as Obj).namespace, "velero");
            const pod = ((job.spec as Obj).template as Obj).spec as Obj;
            const [init] = pod.initContainers as Obj[];
            const [main] = pod.containers as Obj[];
            // The chart's hook template (upgrade-crds.yaml) but for the images' pins, contexts, resources and a server-side apply.
            assert.deepStrictEqual(
                [init.image, init.command, init.args],
                [KUBECTL, ["/bin/sh"], ["-c", "cp `which sh` /tmp && cp `which kubectl` /tmp"]],
            );
            assert.deepStrictEqual(
                [main.image, main.command, main.args],
                [
                    "velero/velero:v1.17.1",
                    ["/tmp/sh"],
                    [
                        "-c",
                        '/velero install --crds-only --dry-run -o yaml | /tmp/kubectl apply --server-side --force-conflicts --field-manager="$FIELD_MANAGER" -f -',
                    ],
                ],
            );
            // Applied as the stack's own field manager, named in the environment, not in the script.
            assert.deepStrictEqual(main.env, [{ name: "FIELD_MANAGER", value: `backup-platform-${stack}` }]);
            assert.deepStrictEqual(restrictedProblems(pod.securityContext as Obj, [init, main]), [], stack);
            assert.strictEqual(pod.serviceAccountName, "velero-server-upgrade-crds");
            const role = r.get("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "velero-upgrade-crds").inputs as Obj;
            assert.deepStrictEqual(role.rules, [
                {
                    apiGroups: ["apiextensions.k8s.io"],
                    resources: ["customresourcedefinitions"],
                    verbs: ["create", "patch", "update", "get", "list"],
                },
            ]);
            const binding = r.get("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "velero-upgrade-crds").inputs as Obj;
            assert.deepStrictEqual(binding.subjects, [{ kind: "ServiceAccount", namespace: "velero", name: "velero-server-upgrade-crds" }]);
        }
        const plain = await render("baremetal");
        assert.notStrictEqual(plain.get(CHART, "velero").inputs.skipCrds, true, "the default keeps the chart's CRDs as stack resources");
        assert.deepStrictEqual(
            plain.all("kubernetes:batch/v1:Job").filter((j) => j.name === "velero-upgrade-crds"),
            [],
        );
    });

    it("crds: job and kubectlImage go together; an unknown mode is refused, naming the allowed ones", async () => {
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.velero = { kubectlImage: "docker.io/bitnamilegacy/kubectl:1.35" })),
            /backup:velero\.kubectlImage: needs backup:velero\.crds: job/,
        );
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.velero = { crds: "job" })),
            /backup:velero\.kubectlImage: is needed with backup:velero\.crds: job/,
        );
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.velero = { crds: "job", kubectlImage: "bitnami/kubectl" })),
            /backup:velero\.kubectlImage: an image must be pinned/,
        );
        await assert.rejects(
            () => render("baremetal", (raw) => (raw.velero = { crds: "helm" })),
            /backup:velero\.crds: must be one of chart, job/,
        );
    });

    it("uses a local chart source when configured", async () => {
        const r = await render("baremetal", (raw) => (raw.charts = { velero: { path: "/charts/velero" } }));
        const chart = r.get(CHART, "velero").inputs;
        assert.strictEqual(chart.chart, "/charts/velero");
        assert.strictEqual(chart.version, undefined);
        assert.strictEqual(chart.repositoryOpts, undefined);
    });
});
