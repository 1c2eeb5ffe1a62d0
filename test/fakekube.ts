// An in-memory API server for the drill's scenarios: objects by path, 409 on create of an existing
// name, uids and creation timestamps, garbage collection of owned objects on delete, and a log of
// every call so tests can check what the drill did.
import { KubeError, type KubeObject } from "../kube/client";
import { type DrillClient } from "../drill/core";

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FakeKube implements DrillClient {
    readonly objects = new Map<string, KubeObject>();
    readonly calls: string[] = [];
    private uid = 0;
    /** Paths whose DELETE fails (to test cleanup errors). */
    readonly failDeletes = new Set<string>();
    /** Paths whose server-side apply is refused (to test a Role that denies it). */
    readonly failApplies = new Set<string>();

    get(path: string): Promise<KubeObject | undefined> {
        this.calls.push(`GET ${path}`);
        const obj = this.objects.get(path);
        return Promise.resolve(obj === undefined ? undefined : clone(obj));
    }

    create(collection: string, obj: KubeObject): Promise<KubeObject | undefined> {
        const name = obj.metadata?.name ?? "";
        const path = `${collection}/${name}`;
        this.calls.push(`POST ${path}`);
        if (this.objects.has(path)) return Promise.reject(new KubeError(`POST ${collection}: 409 ${name} already exists`, 409));
        const stored = clone(obj);
        stored.metadata = { ...stored.metadata, uid: `uid-${++this.uid}`, creationTimestamp: new Date().toISOString() };
        this.objects.set(path, stored);
        return Promise.resolve(clone(stored));
    }

    delete(path: string, options?: { propagationPolicy?: string }): Promise<KubeObject | undefined> {
        this.calls.push(`DELETE ${path}${options?.propagationPolicy ? ` (${options.propagationPolicy})` : ""}`);
        if (this.failDeletes.has(path)) return Promise.reject(new KubeError(`DELETE ${path}: 500 etcd timeout`, 500));
        const obj = this.objects.get(path);
        if (obj === undefined) return Promise.resolve(undefined);
        this.objects.delete(path);
        // The garbage collector: objects owned by the deleted one go too.
        for (const [p, o] of [...this.objects]) {
            const owners = (o.metadata as { ownerReferences?: { uid: string }[] } | undefined)?.ownerReferences ?? [];
            if (owners.some((ref) => ref.uid === obj.metadata?.uid)) this.objects.delete(p);
        }
        return Promise.resolve(clone(obj));
    }

    apply(path: string, obj: KubeObject, manager: string): Promise<KubeObject | undefined> {
        this.calls.push(`APPLY ${path} as ${manager}`);
        if (this.failApplies.has(path)) return Promise.reject(new KubeError(`PATCH ${path}: 403 forbidden`, 403));
        this.objects.set(path, clone(obj));
        return Promise.resolve(clone(obj));
    }

    /** Plays an operator or controller writing an object's status. */
    setStatus(path: string, status: Record<string, unknown>): Promise<void> {
        const obj = this.objects.get(path);
        if (obj === undefined) return Promise.reject(new Error(`no object at ${path}`));
        obj.status = clone(status);
        return Promise.resolve();
    }

    reset(): Promise<void> {
        this.objects.clear();
        this.calls.length = 0;
        this.failDeletes.clear();
        this.failApplies.clear();
        return Promise.resolve();
    }
}
