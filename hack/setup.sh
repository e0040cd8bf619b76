#!/usr/bin/env bash
# Installs what netx's build, lab and tests need on a fresh Debian 12
# machine, and nothing when it is already there. Safe to run repeatedly.
set -euo pipefail

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have iptables-restore || need_pkgs+=(iptables)
have nft || need_pkgs+=(nftables)
have conntrack || need_pkgs+=(conntrack)
have ipset || need_pkgs+=(ipset)
have tcpdump || need_pkgs+=(tcpdump) # reads back the capture tests' pcapng files
have ip || need_pkgs+=(iproute2)
[ -x /usr/lib/cni/bridge ] || need_pkgs+=(containernetworking-plugins)
have make || need_pkgs+=(make)
have git || need_pkgs+=(git)
have tmux || need_pkgs+=(tmux) # the TUI's real-terminal test
if [ "${1:-}" = "--e2e" ]; then
  # The e2e cluster's parts (docs/e2e.md).
  have etcd || need_pkgs+=(etcd-server)
  have containerd || need_pkgs+=(containerd)
  have runc || need_pkgs+=(runc)
  have umoci || need_pkgs+=(umoci)
  [ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q static || need_pkgs+=(busybox-static)
  have file || need_pkgs+=(file)
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need_pkgs[*]}; run as root (or: sudo apt-get install ${need_pkgs[*]})" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need_pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Bridge netfilter: the lab's nodes need bridged pod traffic to pass
# iptables (as every kube-proxy node does). Loading the module turns it on
# for the host's bridges too, as on any Kubernetes node.
if [ ! -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
  echo "setup: modprobe br_netfilter" >&2
  have modprobe || { apt-get install -y -qq kmod >/dev/null; }
  modprobe br_netfilter
fi

if ! have go && [ ! -x /usr/local/go/bin/go ]; then
  echo "setup: Go is not installed; install Go 1.25 or newer to /usr/local/go" >&2
  exit 1
fi

# The real krew, which the release test installs netx with (krew's own
# manifest validation is internal to it: only its binary can check), and
# cnitool.
export PATH="$PATH:/usr/local/go/bin"
gobin=$(go env GOPATH)/bin
if [ ! -x "$gobin/krew" ]; then
  echo "setup: go install sigs.k8s.io/krew/cmd/krew@v0.4.3" >&2
  GOFLAGS= go install sigs.k8s.io/krew/cmd/krew@v0.4.3
fi
# cnitool drives the CNI plugin's tests as a container runtime would.
if [ ! -x "$gobin/cnitool" ]; then
  echo "setup: go install github.com/containernetworking/cni/cnitool@v1.3.1" >&2
  GOFLAGS= go install github.com/containernetworking/cni/cnitool@v1.3.1
fi
