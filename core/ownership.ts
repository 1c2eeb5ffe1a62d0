// Who owns the fields of the Kubernetes objects this stack applies (server-side apply).
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

/** The annotation the Kubernetes provider reads for an object's server-side-apply field manager. */
export const FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager";

/**
 * The field manager of every object this stack owns: `<project>-<stack>`, the same on every run.
 *
 * The provider's default is a random name chosen at an object's first Check and kept in the state. An `up` killed while
 * an object was being created leaves that object in the cluster but not in the state; the next `up` adopts it under a new
 * random name, both names then co-own every field, and the first later change to it fails as a server-side-apply
 * conflict (the real-engine kill test met this on an ObjectStore). A stable name makes the next run the same owner.
 *
 * So a stack re-created under the same name (a lost state file) adopts what the old one left, and regenerated object-user
 * keys replace the retained ones (Rook applies them; the buckets are untouched). One Secret keeps the provider's random
 * default: Velero's repository password, which must never be replaced under an existing kopia repository.
 */
export function stackFieldManager(): string {
    return `${pulumi.getProject()}-${pulumi.getStack()}`;
}

type Annotations = Record<string, pulumi.Input<string>>;

/** `metadata` with this stack's field manager annotation added. */
export function owned<T extends { [key: string]: unknown; annotations?: Annotations }>(metadata: T): T & { annotations: Annotations } {
    return { ...metadata, annotations: { ...metadata.annotations, [FIELD_MANAGER_ANNOTATION]: stackFieldManager() } };
}

/** The type token of a CustomResourceDefinition a chart renders from its `crds/` folder. */
export const CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition";

/**
 * The same annotation on the objects a Helm chart renders: they are registered by the provider, not by this program,
 * so only a transform reaches them. The chart component itself and anything not from the Kubernetes provider pass.
 *
 * A chart's CRDs are retained on delete, as Helm never deletes them: `helm.v4.Chart` would, and deleting Velero's CRDs
 * (on `destroy`, or when the chart leaves the program) deletes every Backup, Restore and Schedule object with them.
 */
export const ownChartObjects: pulumi.ResourceTransform = ({ custom, type, props, opts }) => {
    if (!custom || !type.startsWith("kubernetes:")) return undefined;
    const metadata = (props.metadata ?? {}) as { [key: string]: unknown; annotations?: Annotations };
    return { props: { ...props, metadata: owned(metadata) }, opts: type === CRD_TYPE ? { ...opts, retainOnDelete: true } : opts };
};

/**
 * The transforms to give a Helm chart: `[ownChartObjects]` under the engine. Transforms run as engine callbacks, which
 * Pulumi's mock runtime (render, unit tests) cannot serve: a chart given one there never registers at all.
 */
export function chartTransforms(): pulumi.ResourceTransform[] {
    return pulumi.runtime.getMonitor() instanceof MockMonitor ? [] : [ownChartObjects, leanCrds];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A schema without its `description` strings (a property named "description" is an object there, and stays). */
export function withoutDescriptions(schema: Json): Json {
    if (Array.isArray(schema)) return schema.map(withoutDescriptions);
    if (schema === null || typeof schema !== "object") return schema;
    return Object.fromEntries(
        Object.entries(schema)
            .filter(([key, value]) => !(key === "description" && typeof value === "string"))
            .map(([key, value]) => [key, withoutDescriptions(value)]),
    );
}

/**
 * A chart's CRDs without the documentation in their schemas. The engine keeps every object three times in the state
 * (inputs, `__inputs`, the live object) and logs every property of it at each `up` (BENCHMARKS.md, table 3c): the
 * descriptions are 65% of Velero's 13 CRDs (66 of 102 KB as JSON) and validate nothing. `kubectl explain` shows the
 * field names and types without their text; Velero's API docs have it. Only `spec.versions[].schema` and the printer
 * columns' descriptions go; everything that validates, converts or prints stays.
 */
export const leanCrds: pulumi.ResourceTransform = ({ type, props, opts }) => {
    if (type !== CRD_TYPE) return undefined;
    const spec = (props.spec ?? {}) as { versions?: Record<string, Json>[] };
    const versions = (spec.versions ?? []).map((v) => ({
        ...v,
        ...(v.schema !== undefined ? { schema: withoutDescriptions(v.schema) } : {}),
        ...(Array.isArray(v.additionalPrinterColumns) ? { additionalPrinterColumns: withoutDescriptions(v.additionalPrinterColumns) } : {}),
    }));
    return { props: { ...props, spec: { ...spec, versions } }, opts };
};
