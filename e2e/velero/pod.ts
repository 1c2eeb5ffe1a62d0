// The chart's velero pod, as the kubelet would run it but outside a pod: the container of Deployment
// `<namespace>/velero`, its volumes as local dirs (Secrets written out as files, the plugin copied in as the chart's
// init container does), its env and its args with paths mapped to those dirs. e2e/velero/server.ts starts it.
import * as fs from "fs";
import * as path from "path";
import { apiPath, type Kube } from "../../kube/client";
import { AWS_PLUGIN, baseEnv, freePort } from "./tools";

type Obj = Record<string, unknown>;

/** The velero container of the Deployment the chart rendered, its pod spec, and its args (which must start with `server`). */
export async function chartContainer(k: Kube, namespace: string): Promise<{ podSpec: Obj; container: Obj; args: string[] }> {
    const dep = await k.get(apiPath("apps", "v1", "deployments", namespace, "velero"));
    if (!dep) throw new Error(`Deployment ${namespace}/velero (rendered by the chart) not found`);
    const podSpec = ((dep.spec as Obj).template as Obj).spec as Obj;
    const container = (podSpec.containers as Obj[]).find((c) => c.name === "velero");
    if (!container) throw new Error("the chart's velero container is missing");
    const args = container.args as string[];
    if (args[0] !== "server") throw new Error(`the velero container's args start with ${args[0]}, not server`);
    return { podSpec, container, args };
}

/** Creates a local dir per pod volume (a Secret's keys written in as files); returns the container's mount paths -> dirs. */
export async function podVolumes(k: Kube, tmp: string, namespace: string, podSpec: Obj, container: Obj): Promise<Map<string, string>> {
    // The pod's volumes, as the kubelet would provide them: Secrets written out as files, emptyDirs as dirs.
    const mounts = new Map<string, string>();
    for (const vol of podSpec.volumes as Obj[]) {
        const dir = path.join(tmp, "volumes", vol.name as string);
        fs.mkdirSync(dir, { recursive: true });
        const secret = vol.secret as Obj | undefined;
        if (secret) {
            const s = await k.get(apiPath("", "v1", "secrets", namespace, secret.secretName as string));
            if (!s) throw new Error(`Secret ${namespace}/${secret.secretName as string} (the ${vol.name as string} volume) not found`);
            for (const [key, value] of Object.entries((s.data as Record<string, string> | undefined) ?? {})) {
                fs.writeFileSync(path.join(dir, key), Buffer.from(value, "base64"), { mode: 0o600 });
            }
        }
        for (const m of (container.volumeMounts as Obj[]).filter((vm) => vm.name === vol.name)) mounts.set(m.mountPath as string, dir);
    }
    return mounts;
}

/** Copies the AWS plugin into the plugins volume; returns that volume's dir. */
export function installPlugin(mounts: Map<string, string>): string {
    // What the plugin init container does (`cp /velero-plugin-for-aws /target`): the plugin in the plugins volume.
    const plugins = mounts.get("/plugins");
    if (!plugins) throw new Error("the chart mounts no plugins volume at /plugins");
    fs.copyFileSync(AWS_PLUGIN, path.join(plugins, "velero-plugin-for-aws"));
    fs.chmodSync(path.join(plugins, "velero-plugin-for-aws"), 0o755);
    return plugins;
}

/** A path in the container mapped to the local dir of the volume mounted there (unchanged when no volume holds it). */
export function localPath(mounts: Map<string, string>, v: string): string {
    for (const [mp, dir] of mounts) if (v === mp || v.startsWith(`${mp}/`)) return dir + v.slice(mp.length);
    return v;
}

/** The container's env as the pod would have it, with paths mapped to the local volume dirs. */
export function podEnv(container: Obj, namespace: string, tmp: string, local: (v: string) => string): NodeJS.ProcessEnv {
    const env = baseEnv(tmp);
    for (const e of (container.env as Obj[] | undefined) ?? []) {
        const field = ((e.valueFrom as Obj | undefined)?.fieldRef as Obj | undefined)?.fieldPath;
        if (field === "metadata.namespace") env[e.name as string] = namespace;
        else if (typeof e.value === "string") env[e.name as string] = local(e.value);
        else throw new Error(`env ${e.name as string}: a source this runner does not provide (${JSON.stringify(e.valueFrom)})`);
    }
    return env;
}

/** The chart's args with what only a pod has replaced: --kubeconfig, local paths, listen addresses on free loopback ports. */
export async function serverArgs(
    args: string[],
    local: (v: string) => string,
    opts: { kubeconfig: string; plugins: string; namespace: string },
): Promise<string[]> {
    return [
        ...args
            .filter((a) => !a.startsWith("--metrics-address") && !a.startsWith("--profiler-address"))
            .map((a) => {
                const m = /^(--[a-z-]+=)(\/.*)$/.exec(a);
                return m ? m[1] + local(m[2]) : a;
            }),
        `--kubeconfig=${opts.kubeconfig}`,
        ...(args.some((a) => a.startsWith("--plugin-dir")) ? [] : [`--plugin-dir=${opts.plugins}`]),
        ...(args.some((a) => a.startsWith("--namespace")) ? [] : [`--namespace=${opts.namespace}`]),
        `--metrics-address=127.0.0.1:${await freePort()}`,
        `--profiler-address=127.0.0.1:${await freePort()}`,
    ];
}
