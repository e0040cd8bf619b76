#!/usr/bin/env bash
# make demo: build the built-in seeds lab, show it, and send traffic along
# each of the seeds' paths. Leaves the lab up for exploring.
set -euo pipefail
netx=${1:-bin/netx}
if [ "$(id -u)" -ne 0 ]; then
  echo "the lab creates network namespaces: run make demo as root (sudo make demo)" >&2
  exit 1
fi
bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$bold" "$1" "$plain" "$2"; }
run() { step "$1" "${*:2}"; "${@:2}"; }

run "build the seeds lab (two nodes, host-gw, kube-proxy iptables)" "$netx" datapath up
run "what was built" "$netx" datapath status
run "container <-> container over localhost (mc3: nginx :80 -> webapp :5000)" \
  "$netx" datapath exec mc3 -c nginx -- netx datapath get 127.0.0.1:80
run "pod -> pod on the same node (pod-a -> b-1)" "$netx" datapath exec pod-a -- netx datapath get 10.244.1.3:8080
run "pod -> pod across nodes (pod-a on node1 -> b-2 on node2)" "$netx" datapath exec pod-a -- netx datapath get 10.244.2.2:8080
run "pod -> ClusterIP svc-b, six connections: kube-proxy picks an endpoint each time" \
  "$netx" datapath exec pod-a -- netx datapath get -n 6 10.96.0.10:80
step "Internet -> NodePort 30080 on node1 (mc3 runs on node2)" "nsenter --net=/run/netns/netx.seeds.internet netx datapath get 192.168.77.11:30080"
nsenter --net=/run/netns/netx.seeds.internet "$netx" datapath get 192.168.77.11:30080
step "Internet -> hostPort 8081 on node2 (webapp-hostport)" "nsenter --net=/run/netns/netx.seeds.internet netx datapath get 192.168.77.12:8081"
nsenter --net=/run/netns/netx.seeds.internet "$netx" datapath get 192.168.77.12:8081
step "Internet -> hostNetwork pod on node1:8090" "nsenter --net=/run/netns/netx.seeds.internet netx datapath get 192.168.77.11:8090"
nsenter --net=/run/netns/netx.seeds.internet "$netx" datapath get 192.168.77.11:8090
step "kube-proxy's rules on node1" "ip netns exec netx.seeds.node1 iptables-save -t nat | grep svc-b"
ip netns exec netx.seeds.node1 iptables-save -t nat | grep 'svc-b' || true
run "trace pod-a -> svc-b hop by hop (routes, veth, bridge, kube-proxy's NAT, the endpoint, the reply), then prove it with a real probe" \
  "$netx" trace pod-a svc/svc-b --lab seeds --live

cat <<MSG

The lab stays up for you to explore:
  $netx datapath status -o json
  $netx datapath exec pod-a -- ip route        # any installed program runs inside the pod
  ip netns exec netx.seeds.node1 ip route
  $netx trace pod-a b-2:8080 --lab seeds       # or any two ends: internet node/node1:30080, mc3 localhost:5000
Tear it down with:
  $netx datapath down        (or: make demo-down)
MSG
