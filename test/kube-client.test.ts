// kube/client.ts against a real HTTPS server on 127.0.0.1 (a self-signed certificate made with openssl): a request
// written to a kept-alive connection the server has closed is sent again on a new one; other errors are not.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import type { Socket } from "net";
import { Kube, KubeError } from "../kube/client";

describe("kube client: kept-alive connections", function () {
    this.timeout(30_000);
    let dir: string;
    let server: https.Server;
    let kubeconfig: string;
    /** What the server does with a request: `n` is its number on its connection (1 = the connection's first). */
    let answer: (n: number) => "answer" | "drop" = () => "answer";
    const seen: number[] = [];
    const connections = new Set<Socket>();

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-client-test-"));
        const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
        const res = spawnSync(
            "openssl",
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"].concat([
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ]),
            { encoding: "utf8" },
        );
        assert.strictEqual(res.status, 0, res.stderr);
        const perSocket = new WeakMap<Socket, number>();
        server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), keepAlive: true }, (req, res) => {
            const n = (perSocket.get(req.socket) ?? 0) + 1;
            perSocket.set(req.socket, n);
            seen.push(n);
            // The API server closing an idle connection just as the client writes to it: no answer, the socket gone.
            if (answer(n) === "drop") {
                req.socket.destroy();
                return;
            }
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ kind: "Status", n }));
        });
        server.on("secureConnection", (s: Socket) => connections.add(s));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as AddressInfo).port;
        kubeconfig = path.join(dir, "kubeconfig");
        fs.writeFileSync(
            kubeconfig,
            JSON.stringify({
                "current-context": "t",
                contexts: [{ name: "t", context: { cluster: "t", user: "t" } }],
                clusters: [
                    {
                        name: "t",
                        cluster: {
                            server: `https://127.0.0.1:${port}`,
                            "certificate-authority-data": fs.readFileSync(cert).toString("base64"),
                        },
                    },
                ],
                users: [{ name: "t", user: { token: "t" } }],
            }),
        );
    });

    after(async () => {
        for (const s of connections) s.destroy();
        await new Promise((resolve) => server.close(resolve));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    beforeEach(() => {
        seen.length = 0;
        connections.clear();
    });

    it("sends a request again on a new connection when the kept-alive one was closed under it", async () => {
        answer = (n) => (n >= 2 ? "drop" : "answer");
        const k = Kube.fromKubeconfig({ kubeconfig });
        try {
            assert.deepStrictEqual(await k.get("/api/v1/namespaces/a"), { kind: "Status", n: 1 });
            // Same connection (kept alive): dropped by the server, then sent again on a new connection.
            assert.deepStrictEqual(await k.get("/api/v1/namespaces/b"), { kind: "Status", n: 1 });
            assert.deepStrictEqual(seen, [1, 2, 1], "three requests: the first, the dropped one, the one sent again");
            assert.strictEqual(connections.size, 2);
        } finally {
            k.close();
        }
    });

    it("does not send again what failed on a new connection (the server really refused it)", async () => {
        answer = () => "drop";
        const k = Kube.fromKubeconfig({ kubeconfig });
        try {
            await assert.rejects(
                () => k.get("/api/v1/namespaces/a"),
                (err: unknown) => err instanceof KubeError && !err.staleConnection && /socket hang up|ECONNRESET/.test(err.message),
            );
            assert.deepStrictEqual(seen, [1], "sent once");
        } finally {
            k.close();
        }
    });
});
