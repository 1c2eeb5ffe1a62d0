#!/usr/bin/env bash
# Container images without a registry (issue 16): a root filesystem wrapped as an OCI image archive (one
# uncompressed layer, reproducible: same files, same digest) and imported into the e2e node's containerd.
#
#   e2e/images/image.sh rootfs DIR NAME:TAG OUT.tar [--entrypoint ARG]... [--user UID[:GID]] [--env K=V]...
#                                     [--workdir DIR]
#                                     DIR's files as the image's one layer; each --entrypoint adds one element
#                                     of the entrypoint (the command, then its arguments, as a Dockerfile's
#                                     ENTRYPOINT ["cp-plugin", "SRC", "DEST"])
#   e2e/images/image.sh go CMD NAME:TAG OUT.tar [--user UID[:GID]]
#                                     e2e/images/CMD (a main package of this folder's Go module), built static,
#                                     alone in a scratch image as /CMD (its entrypoint)
#   e2e/images/image.sh files NAME:TAG OUT.tar --file SRC:/DEST [--file ...] [--dir /DEST[:MODE]]
#                                     [--entrypoint ARG]... [--user UID[:GID]] [--env K=V]... [--workdir DIR]
#                                     files built elsewhere (e.g. by e2e/toolchain.sh) in a scratch image: each SRC
#                                     (symlinks followed, mode kept) at /DEST; --dir makes an empty directory
#                                     (default mode 755; e.g. /tmp:1777)
#   e2e/images/image.sh import SOCKET OUT.tar...
#                                     `ctr -n k8s.io images import` into the containerd at SOCKET
#
# --env adds to the image's environment (PATH is always set, as in Debian's and Alpine's images); --workdir sets its
# working directory (default /). Both matter for stand-ins of upstream images (e2e/images/upstream.sh).
#
# NAME:TAG is the name the program or chart pins (e.g. registry.k8s.io/pause:3.10.1, velero/velero:v1.17.1): the
# archive's manifest carries it, normalized as a pull would store it (docker.io/velero/velero:v1.17.1), as
# `io.containerd.image.name`, so pods find the image under that name with imagePullPolicy Never or IfNotPresent.
# Inline Node.js snippets are single-quoted on purpose ($ belongs to JavaScript there).
# shellcheck disable=SC2016
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

LOG_TAG=image
# shellcheck source=../lib/processes.sh
. "${SCRIPT_DIR}/../lib/processes.sh"
usage() {
  sed -n '2,/^# Inline Node/p' "${BASH_SOURCE[0]}" | sed -e '/^# Inline Node/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# check_env K=V: dies unless it is one.
check_env() { [[ "$1" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env needs NAME=VALUE: $1"; }

# The options every command takes, gathered by common_option OPTION VALUE (false for an option it does not know).
ENTRYPOINT=() IMAGE_USER="" WORKDIR=/ IMAGE_ENV=()
common_option() {
  case "$1" in
    --entrypoint) ENTRYPOINT+=("$2") ;;
    --user) IMAGE_USER="$2" ;;
    --env) check_env "$2" && IMAGE_ENV+=("$2") ;;
    --workdir) WORKDIR="$2" ;;
    *) return 1 ;;
  esac
}

# oci_archive DIR NAME:TAG OUT, with ENTRYPOINT, IMAGE_USER, WORKDIR and IMAGE_ENV as common_option set them
oci_archive() {
  local rootfs="$1" ref="$2" out="$3" work
  shift 3
  [[ -d "$rootfs" ]] || die "not a directory: ${rootfs}"
  [[ "$ref" == *:* && "${ref##*:}" != */* ]] || die "image reference needs a tag: ${ref}"
  work="$(mktemp -d "${TMPDIR:-/tmp}/image.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${work}'" RETURN
  mkdir -p "${work}/blobs/sha256"
  # Numeric owners as in the directory (a debootstrap rootfs is root's), fixed times and order: reproducible.
  tar --numeric-owner --sort=name --mtime=@0 --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    -C "$rootfs" -cf "${work}/layer.tar" .
  node -e '
    const fs = require("fs"), path = require("path"), crypto = require("crypto");
    const [work, ref, user, workdir, count, ...rest] = process.argv.slice(1);
    const entrypoint = rest.slice(0, Number(count));
    const env = rest.slice(Number(count));
    // The name a pull would store (docker.io/ for names without a registry, docker.io/library/ for one-part names):
    // the kubelet asks containerd for the normalized reference, so a short name alone is never found.
    const slash = ref.indexOf("/");
    const registry = slash < 0 ? "" : ref.slice(0, slash);
    const fullName =
      slash < 0 ? `docker.io/library/${ref}` : /[.:]/.test(registry) || registry === "localhost" ? ref : `docker.io/${ref}`;
    const blobs = path.join(work, "blobs", "sha256");
    const put = (buf) => {
      const hex = crypto.createHash("sha256").update(buf).digest("hex");
      fs.writeFileSync(path.join(blobs, hex), buf);
      return { digest: `sha256:${hex}`, size: buf.length };
    };
    const layer = fs.readFileSync(path.join(work, "layer.tar"));
    const layerDesc = put(layer);
    fs.unlinkSync(path.join(work, "layer.tar"));
    const config = {
      architecture: "amd64",
      os: "linux",
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...env],
        WorkingDir: workdir,
        ...(entrypoint.length ? { Entrypoint: entrypoint } : {}),
        ...(user ? { User: user } : {}),
      },
      rootfs: { type: "layers", diff_ids: [layerDesc.digest] },
      history: [{ created_by: "e2e/images/image.sh", comment: ref }],
    };
    const configDesc = put(Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configDesc },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layerDesc }],
    };
    const manifestDesc = put(Buffer.from(JSON.stringify(manifest)));
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestDesc,
          platform: { architecture: "amd64", os: "linux" },
          annotations: {
            "io.containerd.image.name": fullName,
            "org.opencontainers.image.ref.name": ref.slice(ref.lastIndexOf(":") + 1),
          },
        },
      ],
    };
    fs.writeFileSync(path.join(work, "index.json"), JSON.stringify(index));
    fs.writeFileSync(path.join(work, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    console.log(`${fullName} ${manifestDesc.digest}`);
  ' "$work" "$ref" "$IMAGE_USER" "$WORKDIR" "${#ENTRYPOINT[@]}" "${ENTRYPOINT[@]}" "${IMAGE_ENV[@]}" >"${work}/digest"
  mkdir -p "$(dirname "$out")"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" -cf "${out}.tmp" oci-layout index.json blobs
  mv "${out}.tmp" "$out"
  log "$(<"${work}/digest") -> ${out} ($(du -h "$out" | cut -f1))"
}

cmd_rootfs() {
  (($# >= 3)) || usage
  local dir="$1" ref="$2" out="$3"
  shift 3
  while (($#)); do
    common_option "$1" "${2:-}" || die "unknown option: $1"
    shift 2
  done
  oci_archive "$dir" "$ref" "$out"
}

cmd_go() {
  (($# >= 3)) || usage
  local cmd="$1" ref="$2" out="$3" rootfs
  shift 3
  while (($#)); do
    if [[ "$1" == --entrypoint ]] || ! common_option "$1" "${2:-}"; then die "unknown option: $1"; fi
    shift 2
  done
  [[ -f "${SCRIPT_DIR}/${cmd}/main.go" ]] || die "no main package e2e/images/${cmd}"
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${rootfs}'" RETURN
  (
    cd "$SCRIPT_DIR"
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "${rootfs}/${cmd}" "./${cmd}"
  ) || die "go build ./${cmd} failed"
  chmod 755 "$rootfs"
  ENTRYPOINT=("/${cmd}")
  oci_archive "$rootfs" "$ref" "$out"
}

cmd_files() {
  (($# >= 2)) || usage
  local ref="$1" out="$2" rootfs spec src dest mode
  shift 2
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${rootfs}'" RETURN
  chmod 755 "$rootfs"
  while (($#)); do
    case "$1" in
      --file)
        spec="$2" && shift 2
        src="${spec%%:*}" dest="${spec#*:}"
        [[ -f "$src" && "$dest" == /* && "$spec" == *:* ]] || die "--file needs SRC:/DEST with SRC a file: ${spec}"
        mkdir -p "${rootfs}$(dirname "$dest")"
        cp -L --preserve=mode "$src" "${rootfs}${dest}"
        ;;
      --dir)
        spec="$2" && shift 2
        dest="${spec%%:*}" mode=755
        [[ "$spec" == *:* ]] && mode="${spec#*:}"
        [[ "$dest" == /* && "$mode" =~ ^[0-7]{3,4}$ ]] || die "--dir needs /DEST[:MODE]: ${spec}"
        mkdir -p "${rootfs}${dest}"
        chmod "$mode" "${rootfs}${dest}"
        ;;
      *)
        common_option "$1" "${2:-}" || die "unknown option: $1"
        shift 2
        ;;
    esac
  done
  oci_archive "$rootfs" "$ref" "$out"
}

cmd_import() {
  (($# >= 2)) || usage
  local sock="$1" f
  shift
  [[ -S "$sock" ]] || die "no containerd socket at ${sock} (is e2e/node.sh running?)"
  for f in "$@"; do
    ctr --address "$sock" -n k8s.io images import "$f" >&2 || die "ctr import ${f} failed"
  done
}

case "${1:-}" in
  rootfs) shift && cmd_rootfs "$@" ;;
  go) shift && cmd_go "$@" ;;
  files) shift && cmd_files "$@" ;;
  import) shift && cmd_import "$@" ;;
  *) usage ;;
esac
