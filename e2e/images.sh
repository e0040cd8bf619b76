#!/usr/bin/env bash
# Builds the e2e cluster's images locally, with no registry: OCI layouts
# made with umoci from Debian's busybox-static (its applets as symlinks).
#   pause    registry.k8s.io/pause:3.10.1   sleeps forever (the sandbox)
#   netbox   netx.local/netbox:1            httpd, nc, sleep, ... and, with NETX_BIN,
#                                           /bin/kubectl-netx (its serve/forward/get)
#   netx     netx.local/netx:<version>      the static netx binary (the node agent) and
#                                           netx-cni (the CNI plugin setup --cni installs)
# Output: one OCI layout tar per image under ${NETX_CACHE:-~/.cache/netx}/images,
# to import with `ctr -n k8s.io images import`.
set -euo pipefail
out=${NETX_CACHE:-$HOME/.cache/netx}/images
netx_bin=${NETX_BIN:-}
mkdir -p "$out"
busybox=$(command -v busybox)
file "$busybox" 2>/dev/null | grep -q "statically linked" || {
  [ -x /bin/busybox ] && busybox=/bin/busybox
}

# image NAME TAG CMD... : a busybox rootfs whose config runs CMD
image() {
  local name=$1 tag=$2; shift 2
  local work
  work=$(mktemp -d)
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$tag"
  umoci unpack --rootless --image "$work/layout:$tag" "$work/bundle" >/dev/null
  local root="$work/bundle/rootfs"
  mkdir -p "$root/bin" "$root/tmp" "$root/www" "$root/etc"
  cp "$busybox" "$root/bin/busybox"
  for a in $("$busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
  done
  echo "netbox" > "$root/www/index.html"
  echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
  if [ -n "${EXTRA_BIN:-}" ]; then cp "$EXTRA_BIN" "$root/bin/kubectl-netx"; fi
  # The CNI plugin's small binary, next to kubectl-netx (make build): the
  # agent's init container installs it with setup --cni.
  if [ -n "${EXTRA_CNI:-}" ]; then cp "$EXTRA_CNI" "$root/bin/netx-cni"; fi
  umoci repack --image "$work/layout:$tag" "$work/bundle" >/dev/null
  local args=()
  for c in "$@"; do args+=(--config.cmd "$c"); done
  umoci config --image "$work/layout:$tag" --config.env PATH=/bin "${args[@]}"
  umoci gc --layout "$work/layout"
  tar -C "$work/layout" -cf "$out/$name.tar" .
  rm -rf "$work"
  echo "$out/$name.tar"
}

image pause 3.10.1 /bin/sleep infinity
EXTRA_BIN=$netx_bin image netbox 1 /bin/sleep infinity
if [ -n "$netx_bin" ]; then
  EXTRA_BIN=$netx_bin EXTRA_CNI=$(dirname "$netx_bin")/netx-cni image netx "${NETX_VERSION:-dev}" /bin/kubectl-netx version
fi
