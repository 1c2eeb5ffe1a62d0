// The velero binaries (built from Go modules by e2e/toolchain.sh) and what running them outside a pod needs: a
// private environment, free ports, the credentials file's keys, a bucket listing, and polling.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { ROOT } from "../harness";

/** The toolchain cache (e2e/toolchain.sh): binaries under bin/<name>-<version>/. */
export const CACHE =
    process.env.BACKUP_PLATFORM_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "k8s-backup-platform");

/** e2e/versions.env as a record. */
export const VERSIONS: Record<string, string> = Object.fromEntries(
    fs
        .readFileSync(path.join(ROOT, "e2e", "versions.env"), "utf8")
        .split("\n")
        .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], m[2]]),
);
export const VELERO_BIN = path.join(CACHE, "bin", `velero-${VERSIONS.VELERO_VERSION}`, "velero");
export const AWS_PLUGIN = path.join(
    CACHE,
    "bin",
    `velero-plugin-for-aws-${VERSIONS.VELERO_PLUGIN_FOR_AWS_VERSION}`,
    "velero-plugin-for-aws",
);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, seconds: number, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const last = await fn();
        if (last !== undefined) return last;
        await sleep(1000);
    }
    throw new Error(`timed out after ${seconds} s waiting for ${what}`);
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

/** controller-runtime's metrics server binds :8080 on every interface (no flag changes it): it must be free. */
export function portFree(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        srv.listen(port, () => srv.close(() => resolve(true)));
    });
}

export function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): string {
    const res = spawnSync(cmd, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (res.status !== 0)
        throw new Error(`${what} failed (exit ${String(res.status)}):\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-3000)}`);
    return res.stdout;
}

/** Builds (first use, ~17 min on 2 cores) or reuses the velero server and its AWS plugin. */
export function buildVelero(env: NodeJS.ProcessEnv): void {
    sh(
        "bash",
        [path.join(ROOT, "e2e", "toolchain.sh"), "velero", "velero-plugin-for-aws"],
        env,
        "e2e/toolchain.sh velero velero-plugin-for-aws",
    );
    for (const f of [VELERO_BIN, AWS_PLUGIN]) if (!fs.existsSync(f)) throw new Error(`${f} missing after e2e/toolchain.sh`);
}

export interface Credentials {
    id: string;
    secret: string;
}

/** Keys of every object in a bucket, listed with the given keys (boto3 from the object store's venv). */
export function listBucket(endpoint: string, bucket: string, prefix: string, credentials: Credentials): string[] {
    const py = [
        "import boto3, json, sys",
        "from botocore.config import Config",
        "s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))",
        "keys = []",
        "for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):",
        "    keys += [o['Key'] for o in page.get('Contents', [])]",
        "print(json.dumps(keys))",
    ].join("\n");
    const out = sh(
        path.join(CACHE, "venv", "bin", "python"),
        ["-c", py, endpoint, bucket, prefix],
        { ...process.env, AWS_ACCESS_KEY_ID: credentials.id, AWS_SECRET_ACCESS_KEY: credentials.secret },
        `list s3://${bucket}/${prefix}`,
    );
    return JSON.parse(out) as string[];
}

/** The `[default]` profile of an AWS shared credentials file. */
export function parseCredentials(text: string): Credentials {
    const val = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)`, "m").exec(text)?.[1];
    const id = val("aws_access_key_id");
    const secret = val("aws_secret_access_key");
    if (!id || !secret) throw new Error("the credentials file holds no aws_access_key_id / aws_secret_access_key");
    return { id, secret };
}

/** A private HOME and TMPDIR for every velero process (the server writes credential files under $TMPDIR). */
export function baseEnv(tmp: string): NodeJS.ProcessEnv {
    const env = { PATH: process.env.PATH, HOME: path.join(tmp, "home"), TMPDIR: path.join(tmp, "tmpdir") };
    fs.mkdirSync(env.HOME, { recursive: true });
    fs.mkdirSync(env.TMPDIR, { recursive: true });
    return env;
}
