#!/usr/bin/env bash
# Builds the Kubernetes binaries the e2e cluster runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) for
# one pinned version from the Go module proxy, and caches them:
#   ${NETX_CACHE:-~/.cache/netx}/k8s/<version>/bin
# k8s.io/kubernetes is not meant to be a dependency, so a throwaway module
# requires it and replaces every k8s.io staging module it lists with the
# published v0.Y.Z of the same release.
set -euo pipefail
version=${K8S_VERSION:-v1.34.4}
cache=${NETX_CACHE:-$HOME/.cache/netx}/k8s/$version
bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
export PATH="$PATH:/usr/local/go/bin"

missing=()
for b in "${bins[@]}"; do [ -x "$cache/bin/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$cache/bin"
  exit 0
fi

staging_version="v0.${version#v1.}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > go.mod <<MOD
module netx.local/k8sbuild

go 1.24

require k8s.io/kubernetes $version
MOD
echo "e2e: resolving k8s.io/kubernetes $version" >&2
GOFLAGS=-mod=mod go mod download -json k8s.io/kubernetes@"$version" > dl.json
kgomod=$(sed -n 's/.*"GoMod": "\(.*\)",/\1/p' dl.json)
# Every k8s.io/* module the kubernetes go.mod replaces with ./staging/...
grep -E '^\s*k8s.io/[a-z0-9-]+ => \./staging/' "$kgomod" | awk '{print $1}' | sort -u > staging.txt
{
  echo
  echo "replace ("
  while read -r m; do echo "  $m => $m $staging_version"; done < staging.txt
  echo ")"
} >> go.mod
cat > tools.go <<'GO'
//go:build tools

package tools
GO
echo "e2e: downloading modules for ${missing[*]}" >&2
pkgs=()
# Each with @version: a bare package path would upgrade k8s.io/kubernetes.
for b in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b@$version"); done
GOFLAGS=-mod=mod go get "${pkgs[@]}" >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "${pkgs[@]}"
mkdir -p "$cache/bin"
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
for b in "${missing[@]}"; do
  echo "e2e: building $b $version" >&2
  start=$(date +%s)
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$cache/bin/$b.tmp" "k8s.io/kubernetes/cmd/$b"
  mv "$cache/bin/$b.tmp" "$cache/bin/$b"
  echo "e2e: built $b in $(( $(date +%s) - start ))s" >&2
done
echo "$cache/bin"
