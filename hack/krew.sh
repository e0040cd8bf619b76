#!/usr/bin/env bash
# Builds the release archives of kubectl-netx for every krew platform and
# renders krew/netx.yaml.tmpl into bin/release/netx.yaml with their real
# sha256 sums, each archive holding the binary, the LICENSE and (but on
# Windows) kubectl's completion shim. Usage: hack/krew.sh VERSION [OUTDIR]
# (default bin/release).
set -euo pipefail
version=${1:?usage: hack/krew.sh VERSION [OUTDIR]}
out=${2:-bin/release}
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "hack/krew.sh: version \"$version\" is not vMAJOR.MINOR.PATCH, which krew needs: make krew VERSION=v0.1.0" >&2
  exit 1
fi
rm -rf "$out" && mkdir -p "$out"
platforms=""
for p in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64; do
  os=${p%/*} arch=${p#*/} bin=kubectl-netx
  [ "$os" = windows ] && bin=kubectl-netx.exe
  dir=$(mktemp -d)
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X github.com/netx-project/netx/cmd.Version=$version" -o "$dir/$bin" .
  cp LICENSE "$dir/"
  # kubectl's completion of the plugin (see the manifest's caveats).
  [ "$os" = windows ] || cp krew/kubectl_complete-netx "$dir/"
  archive="kubectl-netx_${os}_${arch}.tar.gz"
  tar -C "$dir" -czf "$out/$archive" .
  rm -rf "$dir"
  sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
  platforms+="    - selector:
        matchLabels: {os: $os, arch: $arch}
      uri: https://github.com/netx-project/netx/releases/download/$version/$archive
      sha256: \"$sum\"
      bin: $bin
"
done
awk -v v="$version" -v p="$platforms" '{ gsub(/\{\{VERSION\}\}/, v); if ($0 ~ /\{\{PLATFORMS\}\}/) { printf "%s", p } else print }' \
  krew/netx.yaml.tmpl > "$out/netx.yaml"
echo "wrote $out/netx.yaml and $(ls "$out" | grep -c tar.gz) archives" >&2
