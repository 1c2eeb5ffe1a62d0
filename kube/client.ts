// A small Kubernetes API client for the command-line tools (verify, drills): reads a kubeconfig the
// way kubectl does (KUBECONFIG or ~/.kube/config, current or chosen context; client certificates,
// bearer tokens or an exec credential plugin such as `aws eks get-token`), or the pod's service
// account inside a cluster, and speaks JSON over HTTPS. Only Node.js built-ins at load time (yaml is
// required lazily, for kubeconfigs): the in-cluster drill runner bundles this file.
// Hand-written, not @kubernetes/client-node, because of the drill runner: it ships in a ConfigMap per
// namespace, stored twice in Pulumi state (inputs and outputs). Measured with esbuild: client-node's
// KubeConfig alone bundles to 1.28 MB minified (0.37 MB gzipped, over a ConfigMap's 1 MiB unzipped);
// the whole runner with this client is 28 KB, unminified and readable.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import type * as YAML from "yaml";

/** Where a pod finds its service account's token and the cluster CA. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export type KubeObject = Record<string, unknown> & {
    metadata?: {
        name?: string;
        namespace?: string;
        labels?: Record<string, string>;
        creationTimestamp?: string;
        annotations?: Record<string, string>;
        uid?: string;
        deletionTimestamp?: string;
    };
};

interface NamedEntry<T> {
    name: string;
    [key: string]: unknown;
    value?: T;
}

interface KubeconfigFile {
    "current-context"?: string;
    contexts?: (NamedEntry<never> & { context: { cluster: string; user: string; namespace?: string } })[];
    clusters?: (NamedEntry<never> & {
        cluster: {
            server: string;
            "certificate-authority"?: string;
            "certificate-authority-data"?: string;
            "insecure-skip-tls-verify"?: boolean;
        };
    })[];
    users?: (NamedEntry<never> & {
        user: {
            "client-certificate"?: string;
            "client-certificate-data"?: string;
            "client-key"?: string;
            "client-key-data"?: string;
            token?: string;
            tokenFile?: string;
            exec?: { command: string; args?: string[]; env?: { name: string; value: string }[] };
        };
    })[];
}

export class KubeError extends Error {
    constructor(
        message: string,
        readonly status?: number,
        /** Seconds the server asked to wait before trying again (429, or 5xx with Retry-After). */
        readonly retryAfterSeconds?: number,
        /** The request went out on a kept-alive connection the server had already closed (nothing was answered). */
        readonly staleConnection = false,
    ) {
        super(message);
    }
}

/**
 * Socket errors of a request written to a kept-alive connection the server closed while it was idle (the API server
 * drops idle connections; a test that builds an image for minutes between two requests met EPIPE). Node.js documents
 * the case (`request.reusedSocket`) and that such a request is safe to send again on a new connection.
 */
const STALE_SOCKET_CODES = new Set(["ECONNRESET", "EPIPE"]);

/** GETs the server asked to retry (Retry-After) are tried this often, waiting at most 10 s each, as client-go does. */
const GET_ATTEMPTS = 5;

export interface KubeOptions {
    /** kubeconfig path; default $KUBECONFIG (first entry) or ~/.kube/config. */
    kubeconfig?: string;
    /** Context name; default the current context. */
    context?: string;
    /** Seconds to wait for a response before failing the request; default no limit (the drills wait on purpose). */
    requestTimeoutSeconds?: number;
}

/** A connection to one API server. */
export class Kube {
    private constructor(
        private readonly server: URL,
        private readonly agent: https.Agent,
        private readonly token: () => string | undefined,
        private readonly timeoutSeconds?: number,
    ) {}

    static fromKubeconfig(opts: KubeOptions = {}): Kube {
        const file =
            opts.kubeconfig ??
            (process.env.KUBECONFIG ?? "").split(path.delimiter).find((f) => f !== "") ??
            path.join(os.homedir(), ".kube", "config");
        if (!fs.existsSync(file)) throw new KubeError(`kubeconfig ${file} not found (set KUBECONFIG or --kubeconfig)`);
        // Loaded here, not at the top: the in-cluster runner has no node_modules and never reads a kubeconfig.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { parse } = require("yaml") as typeof YAML;
        let cfg: KubeconfigFile;
        try {
            cfg = (parse(fs.readFileSync(file, "utf8")) ?? {}) as KubeconfigFile;
        } catch (err) {
            throw new KubeError(`kubeconfig ${file} is not readable YAML: ${(err as Error).message.split("\n")[0]}`);
        }
        const base = path.dirname(file);
        const ctxName = opts.context ?? cfg["current-context"];
        const ctx = cfg.contexts?.find((c) => c.name === ctxName)?.context;
        if (!ctx) throw new KubeError(`context ${String(ctxName)} not found in ${file}`);
        const cluster = cfg.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
        const user = cfg.users?.find((u) => u.name === ctx.user)?.user ?? {};
        if (!cluster) throw new KubeError(`cluster ${ctx.cluster} not found in ${file}`);
        const read = (inline: string | undefined, file?: string) =>
            inline !== undefined
                ? Buffer.from(inline, "base64")
                : file !== undefined
                  ? fs.readFileSync(path.resolve(base, file))
                  : undefined;
        const agent = new https.Agent({
            ca: read(cluster["certificate-authority-data"], cluster["certificate-authority"]),
            cert: read(user["client-certificate-data"], user["client-certificate"]),
            key: read(user["client-key-data"], user["client-key"]),
            rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
            keepAlive: true,
        });
        let cached: { token: string; until: number } | undefined;
        const token = (): string | undefined => {
            if (user.token) return user.token;
            if (user.tokenFile) return fs.readFileSync(path.resolve(base, user.tokenFile), "utf8").trim();
            if (!user.exec) return undefined;
            if (cached && cached.until > Date.now()) return cached.token;
            const env = { ...process.env, ...Object.fromEntries((user.exec.env ?? []).map((e) => [e.name, e.value])) };
            const res = spawnSync(user.exec.command, user.exec.args ?? [], { env, encoding: "utf8" });
            if (res.status !== 0) throw new KubeError(`credential plugin ${user.exec.command} failed: ${res.stderr || String(res.error)}`);
            const status = (JSON.parse(res.stdout) as { status?: { token?: string; expirationTimestamp?: string } }).status ?? {};
            if (!status.token) throw new KubeError(`credential plugin ${user.exec.command} returned no token`);
            cached = {
                token: status.token,
                until: status.expirationTimestamp ? Date.parse(status.expirationTimestamp) - 60_000 : Date.now() + 60_000,
            };
            return cached.token;
        };
        return new Kube(new URL(cluster.server), agent, token, opts.requestTimeoutSeconds);
    }

    /** Inside a pod: the API server from the service environment, the service account's (rotating) token. */
    static inCluster(dir = SERVICE_ACCOUNT_DIR): Kube {
        const host = process.env.KUBERNETES_SERVICE_HOST;
        const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
        if (!host) throw new KubeError("not in a cluster: KUBERNETES_SERVICE_HOST is not set");
        const agent = new https.Agent({ ca: fs.readFileSync(path.join(dir, "ca.crt")), keepAlive: true });
        // Bound tokens rotate: read the file for every request.
        const token = () => fs.readFileSync(path.join(dir, "token"), "utf8").trim();
        return new Kube(new URL(`https://${host.includes(":") ? `[${host}]` : host}:${port}`), agent, token);
    }

    /**
     * One request; resolves the parsed body, or undefined for 404 on GET. A GET the server refuses with
     * Retry-After (429 "storage is (re)initializing" on the first list of a new CRD, 503 while it starts)
     * is tried again, like kubectl does. Any request that met a stale kept-alive connection is sent once more on a new one.
     */
    async request(method: string, apiPath: string, body?: unknown, contentType = "application/json"): Promise<KubeObject | undefined> {
        let resent = false;
        for (let attempt = 1; ; attempt++) {
            try {
                return await this.once(method, apiPath, body, contentType);
            } catch (err) {
                if (err instanceof KubeError && err.staleConnection && !resent) {
                    resent = true;
                    attempt--;
                    continue;
                }
                const wait = err instanceof KubeError ? err.retryAfterSeconds : undefined;
                if (method !== "GET" || wait === undefined || attempt >= GET_ATTEMPTS) throw err;
                await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(wait, 1), 10) * 1000));
            }
        }
    }

    private once(method: string, apiPath: string, body: unknown, contentType: string): Promise<KubeObject | undefined> {
        const url = new URL(apiPath, this.server);
        const token = this.token();
        const payload = body === undefined ? undefined : JSON.stringify(body);
        return new Promise((resolve, reject) => {
            const req = https.request(
                url,
                {
                    method,
                    agent: this.agent,
                    headers: {
                        accept: "application/json",
                        ...(payload !== undefined ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) } : {}),
                        ...(token ? { authorization: `Bearer ${token}` } : {}),
                    },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => {
                        const text = Buffer.concat(chunks).toString("utf8");
                        const status = res.statusCode ?? 0;
                        if (status === 404 && method === "GET") return resolve(undefined);
                        if (status >= 400) {
                            let message = text;
                            try {
                                message = (JSON.parse(text) as { message?: string }).message ?? text;
                            } catch {
                                // not JSON: keep the raw text
                            }
                            const after = Number(res.headers["retry-after"]);
                            const retry = (status === 429 || status >= 500) && Number.isFinite(after) ? after : undefined;
                            return reject(new KubeError(`${method} ${apiPath}: ${status} ${message}`, status, retry));
                        }
                        try {
                            resolve(text === "" ? {} : (JSON.parse(text) as KubeObject));
                        } catch {
                            reject(new KubeError(`${method} ${apiPath}: ${status} response is not JSON: ${text.slice(0, 80)}`, status));
                        }
                    });
                },
            );
            req.on("error", (err: NodeJS.ErrnoException) =>
                reject(
                    new KubeError(
                        `${method} ${url.toString()}: ${err.message}`,
                        undefined,
                        undefined,
                        req.reusedSocket && STALE_SOCKET_CODES.has(err.code ?? ""),
                    ),
                ),
            );
            const limit = this.timeoutSeconds;
            if (limit !== undefined) req.setTimeout(limit * 1000, () => req.destroy(new Error(`no response within ${limit} s`)));
            if (payload !== undefined) req.write(payload);
            req.end();
        });
    }

    get(apiPath: string): Promise<KubeObject | undefined> {
        return this.request("GET", apiPath);
    }

    /** Items of a list path; an API group that is not installed lists as empty. */
    async list(apiPath: string): Promise<KubeObject[]> {
        const res = await this.get(apiPath);
        return (res?.items as KubeObject[] | undefined) ?? [];
    }

    /** Merge-patches an object's status subresource (what a controller would write). */
    patchStatus(apiPath: string, status: Record<string, unknown>): Promise<KubeObject | undefined> {
        return this.request("PATCH", `${apiPath}/status`, { status }, "application/merge-patch+json");
    }

    /** Server-side apply as `manager`. */
    apply(apiPath: string, obj: KubeObject, manager: string): Promise<KubeObject | undefined> {
        return this.request(
            "PATCH",
            `${apiPath}?fieldManager=${encodeURIComponent(manager)}&force=true`,
            obj,
            "application/apply-patch+yaml",
        );
    }

    /** Creates an object in a collection (POST); 409 when it exists. */
    create(apiPath: string, obj: KubeObject): Promise<KubeObject | undefined> {
        return this.request("POST", apiPath, obj);
    }

    /** Deletes an object; an absent object is not an error. Jobs need a propagationPolicy, or their pods are orphaned. */
    delete(apiPath: string, options?: { propagationPolicy?: "Background" | "Foreground" | "Orphan" }): Promise<KubeObject | undefined> {
        const body = options?.propagationPolicy
            ? { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: options.propagationPolicy }
            : undefined;
        return this.request("DELETE", apiPath, body).catch((err: unknown) => {
            if (err instanceof KubeError && err.status === 404) return undefined;
            throw err;
        });
    }

    close(): void {
        this.agent.destroy();
    }
}

/** API path of a namespaced collection or object: group "" is the core API. */
export function apiPath(group: string, version: string, plural: string, namespace?: string, name?: string): string {
    const base = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
    return `${base}${namespace ? `/namespaces/${namespace}` : ""}/${plural}${name ? `/${name}` : ""}`;
}
