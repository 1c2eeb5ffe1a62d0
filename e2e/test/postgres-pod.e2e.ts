// A PostgreSQL pod archiving and backing up through the program's Secret, and restoring (issue 16). The baremetal
// stack is deployed with the bucket endpoint as pods see it (the machine's RGW forwarded into the node); the Rook
// stand-in turns the program's object user into RGW keys and the program delivers them to the database's namespace.
// Then a pod on the real node (PostgreSQL 15 and barman-cloud 3.19.1 in a Debian image built here,
// e2e/images/debian.sh) takes its credentials from that Secret, as the keys the live ObjectStore names, and runs
// e2e/pitr/pod.py: WAL archiving, a base backup, a restore into a new data dir and recovery to the end of the archive,
// with the barman-cloud command lines of e2e/pitr/pitr.py (the same mapping as the process-based PITR proof).
// What is not proven here: CloudNativePG's operator and instance manager (no image of them can be built here).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { apiPath, type Kube } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { CHART_PATHS, kube, ROOT } from "../harness";
import { HOST_FROM_PODS, loadDebianImage, startNode, stopNode, type RealNode } from "../node";
import { listBucket, waitFor } from "../velero/tools";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
const NS = "rciis-prod";
const CLUSTER = "esb-postgres";
const BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";
const IMAGE = "k8s-backup-platform.local/postgres-barman:15-3.19.1";
const POD = "pg-archive-e2e";
const SCRIPTS = "pg-archive-e2e-scripts";
const log = (s: string) => process.stdout.write(`      [postgres-pod] ${s}\n`);

interface SecretKeyRef {
    name: string;
    key: string;
}

describe("a PostgreSQL pod archives, backs up and restores through the program's Secret (real node, barman-cloud)", function () {
    this.timeout(20 * 60_000);
    let k: Kube;
    let node: RealNode | undefined;
    let ws: Workspace | undefined;
    let podEndpoint = "";
    let store: { configuration: Obj; serverName: string } | undefined;

    before(function () {
        this.timeout(40 * 60_000);
        k = kube(shared.kubeconfig);
        const port = Number(new URL(shared.store.endpoint).port);
        node = startNode(shared.env, [port]);
        // Built once per recipe (debootstrap, apt, pip: ~2.5 min), then copied from the cache.
        loadDebianImage(node, IMAGE, [
            ...["postgresql-15", "python3-venv", "python3-psycopg2", "ca-certificates"].flatMap((p) => ["--apt", p]),
            ...["barman[cloud]==3.19.1", "boto3==1.43.11"].flatMap((p) => ["--pip", p]),
            ...["--account", "postgres:26:26:/var/lib/postgresql", "--user", "26:26"],
        ]);
        podEndpoint = `http://${HOST_FROM_PODS}:${port}`;
        const bm = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Obj;
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init({
            "backup:charts": { velero: { path: CHART_PATHS.velero }, descheduler: { path: CHART_PATHS.descheduler } },
            "backup:skipAwait": true,
            "backup:baremetal": { ...bm, endpoint: podEndpoint },
        });
        const t0 = Date.now();
        ws.up();
        log(`pulumi up --stack baremetal (bucket endpoint ${podEndpoint}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

    after(async function () {
        this.timeout(5 * 60_000);
        try {
            if (k && process.env.E2E_KEEP !== "1") {
                await k.delete(apiPath("", "v1", "pods", NS, POD));
                await k.delete(apiPath("", "v1", "configmaps", NS, SCRIPTS));
                await waitFor(`pod ${POD} gone`, 120, async () => ((await k.get(apiPath("", "v1", "pods", NS, POD))) ? undefined : true));
            }
            if (process.env.E2E_KEEP !== "1") ws?.remove();
        } finally {
            k?.close();
            stopNode(node);
        }
    });

    it("the database's archive store is the program's: its ObjectStore on the live Cluster, at the pod-visible endpoint", async () => {
        const cluster = await k.get(apiPath("postgresql.cnpg.io", "v1", "clusters", NS, CLUSTER));
        const plugins = (((cluster?.spec as Obj | undefined)?.plugins as Obj[] | undefined) ?? []).filter(
            (p) => p.name === BARMAN_PLUGIN && p.isWALArchiver === true,
        );
        assert.strictEqual(plugins.length, 1, "one WAL-archiving barman plugin on the Cluster");
        const params = plugins[0].parameters as Record<string, string>;
        const os = await k.get(apiPath("barmancloud.cnpg.io", "v1", "objectstores", NS, params.barmanObjectName));
        assert.ok(os, `ObjectStore ${params.barmanObjectName}`);
        const configuration = (os.spec as Obj).configuration as Obj;
        assert.strictEqual(configuration.endpointURL, podEndpoint);
        store = { configuration, serverName: params.serverName ?? CLUSTER };
    });

    it("the pod archives WAL, takes a base backup and restores every row, with the program's Secret as its credentials", async () => {
        assert.ok(store, "the ObjectStore was read");
        const creds = store.configuration.s3Credentials as { accessKeyId: SecretKeyRef; secretAccessKey: SecretKeyRef };
        // The Secret is delivered once the Rook stand-in has made the user's keys.
        await waitFor(`Secret ${creds.accessKeyId.name}`, 180, async () => k.get(apiPath("", "v1", "secrets", NS, creds.accessKeyId.name)));
        const dir = path.join(ROOT, "e2e", "pitr");
        await k.apply(
            apiPath("", "v1", "configmaps", NS, SCRIPTS),
            {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name: SCRIPTS, namespace: NS },
                data: Object.fromEntries(["pitr.py", "pod.py"].map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")])),
            },
            "postgres-pod-e2e",
        );
        const env = (name: string, ref: SecretKeyRef) => ({ name, valueFrom: { secretKeyRef: ref } });
        const emptyDir = (name: string, mountPath: string) => ({ volume: { name, emptyDir: {} }, mount: { name, mountPath } });
        const dirs = [emptyDir("data", "/var/lib/postgresql/data"), emptyDir("socket", "/run/postgresql"), emptyDir("tmp", "/tmp")];
        const t0 = Date.now();
        await k.create(apiPath("", "v1", "pods", NS), {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: POD, namespace: NS, labels: { "app.kubernetes.io/name": "pg-archive-e2e" } },
            spec: {
                restartPolicy: "Never",
                automountServiceAccountToken: false,
                securityContext: { runAsNonRoot: true, runAsUser: 26, runAsGroup: 26, seccompProfile: { type: "RuntimeDefault" } },
                containers: [
                    {
                        name: "postgres",
                        image: IMAGE,
                        imagePullPolicy: "Never",
                        command: ["/opt/venv/bin/python", "/scripts/pod.py"],
                        env: [
                            { name: "NAMESPACE", value: NS },
                            { name: "SERVER_NAME", value: store.serverName },
                            { name: "OBJECT_STORE", value: JSON.stringify(store.configuration) },
                            { name: "PATH", value: "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin" },
                            env("AWS_ACCESS_KEY_ID", creds.accessKeyId),
                            env("AWS_SECRET_ACCESS_KEY", creds.secretAccessKey),
                        ],
                        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                        volumeMounts: [...dirs.map((d) => d.mount), { name: "scripts", mountPath: "/scripts", readOnly: true }],
                    },
                ],
                volumes: [...dirs.map((d) => d.volume), { name: "scripts", configMap: { name: SCRIPTS } }],
            },
        });
        const done = await waitFor(`pod ${POD} finished`, 600, async () => {
            const p = await k.get(apiPath("", "v1", "pods", NS, POD));
            const phase = (p?.status as Obj | undefined)?.phase;
            return phase === "Succeeded" || phase === "Failed" ? p : undefined;
        });
        const state = (((done.status as Obj).containerStatuses as Obj[])[0].state as Obj).terminated as Obj;
        const message = typeof state.message === "string" ? state.message : "";
        log(`pod ${String((done.status as Obj).phase)} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${message}`);
        assert.strictEqual((done.status as Obj).phase, "Succeeded", message);
        assert.match(message, /^ok rows=150 backup=\S+ archived=[0-9A-F]{24} archive_failures=0$/);

        // What the bucket holds, listed with the same keys: the WAL and the base backup under <destination>/<server>.
        const dest = new URL(String(store.configuration.destinationPath));
        const id = Buffer.from(
            String(((await k.get(apiPath("", "v1", "secrets", NS, creds.accessKeyId.name)))?.data as Obj)[creds.accessKeyId.key]),
            "base64",
        ).toString();
        const secret = Buffer.from(
            String(((await k.get(apiPath("", "v1", "secrets", NS, creds.secretAccessKey.name)))?.data as Obj)[creds.secretAccessKey.key]),
            "base64",
        ).toString();
        const prefix = `${dest.pathname.replace(/^\//, "")}/${store.serverName}/`;
        const keys = listBucket(shared.store.endpoint, dest.host, prefix, { id, secret });
        const backupId = /backup=(\S+)/.exec(message)?.[1] ?? "";
        assert.ok(
            keys.some((key) => key === `${prefix}base/${backupId}/backup.info`),
            `base backup ${backupId} in the bucket`,
        );
        const archived = /archived=(\S+)/.exec(message)?.[1] ?? "";
        assert.ok(
            keys.some((key) => key.startsWith(`${prefix}wals/`) && key.includes(archived)),
            `WAL ${archived} in the bucket`,
        );
        log(`s3://${dest.host}/${prefix}: ${keys.length} objects`);
    });
});
