// Velero's two images for the e2e node, built here from the toolchain's binaries (no registry) and tagged with the
// names the chart and the program pin, so the Deployment runs unchanged. Layouts follow upstream's Dockerfiles:
// velero/velero has /velero (upstream: on paketobuildpacks/run-jammy-tiny, user cnb 1002:1000, with CA certificates
// and /tmp); velero/velero-plugin-for-aws is FROM scratch with /plugins/velero-plugin-for-aws and /bin/cp-plugin,
// ENTRYPOINT ["cp-plugin", "/plugins/velero-plugin-for-aws", "/target/velero-plugin-for-aws"], USER 65532:65532.
// What each really is: e2e/STANDINS.md, "Images built here".
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { velero as veleroConfig } from "../../config/velero";
import { CHART_PATHS, ROOT } from "../harness";
import { loadImage, type RealNode } from "../node";
import { AWS_PLUGIN, CACHE, sh, VELERO_BIN, VERSIONS } from "./tools";

/** The plugin image's entrypoint (the plugin module's hack/cp-plugin, e2e/toolchain.sh cp-plugin). */
export const CP_PLUGIN = path.join(CACHE, "bin", `cp-plugin-${VERSIONS.VELERO_PLUGIN_FOR_AWS_VERSION}`, "cp-plugin");
/** Go's default CA bundle path; upstream's velero image has Ubuntu's ca-certificates there. */
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The image references to build: the chart's server image and the program's plugin image. */
export interface VeleroImages {
    readonly server: string;
    readonly plugin: string;
}

/** The images the Deployment names, unchanged: the chart's server image (values.yaml) and the program's plugin pin. */
export function chartImages(): VeleroImages {
    const image = (parse(fs.readFileSync(path.join(CHART_PATHS.velero, "values.yaml"), "utf8")) as { image: Record<string, unknown> })
        .image;
    return { server: `${String(image.repository)}:${String(image.tag)}`, plugin: veleroConfig.parse({}).pluginImage };
}

/** The kubectl image the CRD Job copies from (`velero.kubectlImage`): a stand-in, e2e/images/upstream.sh kubectl. */
export const KUBECTL_IMAGE = `public.ecr.aws/bitnami/kubectl:${VERSIONS.KUBERNETES_VERSION}`;

/** Builds the kubectl stand-in (`KUBECTL_IMAGE`) and imports it into the node; returns the seconds it took. */
export function loadKubectlImage(node: RealNode): number {
    const t0 = Date.now();
    loadImage(node, KUBECTL_IMAGE, { upstream: "kubectl" });
    return (Date.now() - t0) / 1000;
}

/**
 * Builds velero, velero-plugin-for-aws and cp-plugin if missing (e2e/toolchain.sh, cached by version), then both images,
 * and imports them into the node. Returns how long the image builds and imports took, in seconds.
 */
export function loadVeleroImages(node: RealNode, refs: VeleroImages): number {
    sh(
        "bash",
        [path.join(ROOT, "e2e", "toolchain.sh"), "velero", "velero-plugin-for-aws", "cp-plugin"],
        node.env,
        "e2e/toolchain.sh velero velero-plugin-for-aws cp-plugin",
    );
    for (const f of [VELERO_BIN, AWS_PLUGIN, CP_PLUGIN]) if (!fs.existsSync(f)) throw new Error(`${f} missing after e2e/toolchain.sh`);
    const t0 = Date.now();
    loadImage(node, refs.server, { files: true }, [
        ...["--file", `${VELERO_BIN}:/velero`],
        ...(fs.existsSync(CA_BUNDLE) ? ["--file", `${CA_BUNDLE}:${CA_BUNDLE}`] : []),
        ...["--dir", "/tmp:1777", "--entrypoint", "/velero", "--user", "1002:1000"],
    ]);
    loadImage(node, refs.plugin, { files: true }, [
        ...["--file", `${AWS_PLUGIN}:/plugins/velero-plugin-for-aws`, "--file", `${CP_PLUGIN}:/bin/cp-plugin`],
        ...["--entrypoint", "cp-plugin", "--entrypoint", "/plugins/velero-plugin-for-aws", "--entrypoint", "/target/velero-plugin-for-aws"],
        ...["--user", "65532:65532"],
    ]);
    return (Date.now() - t0) / 1000;
}
