#!/usr/bin/env bash
# Cluster mode's cost on the e2e cluster (make e2e-up, seeds applied), next
# to the manual way measured in the same run: the wall time of
#   cold   kubectl netx trace pod-a svc/svc-b   agent pods made, used, deleted
#   live   kubectl netx trace pod-a svc/mc3 --live   across both nodes: each
#          agent's captures and trace rules, the probe from pod-a
#   setup  kubectl netx setup until an agent is ready on every node
#   warm   both with setup's agents (the DaemonSet in netx-system)
#   manual kubectl debug node/node1 + kubectl exec iptables-save (the node's
#          rules, chrooted at /host) + kubectl delete — one node's rules only,
#          before any reading by hand
# Usage: hack/cluster-bench.sh [ROUNDS]   (KUBECONFIG and PATH as make e2e-up says)
#
# With "cni" first, on a cluster without a pod network (make e2e-up
# E2E_CNI=none), each round times
#   setup --cni  kubectl netx setup --cni until every node is Ready on it
#   teardown     kubectl netx teardown, the CNI taken off every node
# next to the agent alone in the same run (setup without --cni: the
# DaemonSet rollout every setup waits for, and its teardown).
# Usage: hack/cluster-bench.sh cni [ROUNDS] [CLUSTER-CIDR]
set -euo pipefail
cni=
if [ "${1:-}" = cni ]; then cni=1; shift; fi
rounds=${1:-5}
netx=${NETX:-bin/kubectl-netx}
version=$("$netx" version -o json | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p')
image=ghcr.io/netx-project/netx:$version

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f s (of %d: %.2f–%.2f)\n", m, NR, a[1], a[NR]}'; }

timed() {
  local t0; t0=$(now)
  "$netx" "$@" >/dev/null
  awk -v a="$(now)" -v b="$t0" 'BEGIN {print a - b}'
}
cold() { timed trace pod-a svc/svc-b; }
live() { timed trace pod-a svc/mc3 --live; }

manual() {
  local t0 pod; t0=$(now)
  pod=$(kubectl debug node/node1 --profile=sysadmin --image="$image" -- kubectl-netx agent idle --for 5m 2>&1 |
    sed -n 's/^Creating debugging pod \([^ ]*\) .*/\1/p')
  kubectl wait --for=condition=Ready "pod/$pod" --timeout=60s >/dev/null
  kubectl exec "$pod" -- chroot /host /usr/sbin/iptables-save >/dev/null
  kubectl delete pod "$pod" --grace-period=0 --wait=false >/dev/null 2>&1
  awk -v a="$(now)" -v b="$t0" 'BEGIN {print a - b}'
}

if [ -n "$cni" ]; then
  cidr=${2:-10.244.0.0/16}
  trap '"$netx" teardown --force >/dev/null 2>&1 || true' EXIT
  for what in cni agent; do
    flags=(--image "$image"); [ "$what" = cni ] && flags+=(--cni --cluster-cidr "$cidr")
    up=(); down=()
    for _ in $(seq "$rounds"); do
      up+=("$(timed setup "${flags[@]}")")
      down+=("$(timed teardown)")
      # Each round starts from nodes the kubelet reports NotReady again.
      [ "$what" = cni ] && kubectl wait --for=condition=Ready=false nodes --all --timeout=60s >/dev/null
    done
    if [ "$what" = cni ]; then
      echo "setup --cni: from no pod network to every node Ready on netx's"
    else
      echo "setup (the agent alone, same run): from nothing to an agent ready on every node"
    fi
    printf '%s\n' "${up[@]}" | median
    echo "teardown after it"
    printf '%s\n' "${down[@]}" | median
  done
  exit 0
fi

echo "cold: kubectl netx trace pod-a svc/svc-b (agent pods made and deleted)"
for _ in $(seq "$rounds"); do cold; done | median
echo "live cold: kubectl netx trace pod-a svc/mc3 --live (agent pods made and deleted)"
for _ in $(seq "$rounds"); do live; done | median
echo "manual: kubectl debug node + exec iptables-save + delete (one node)"
for _ in $(seq "$rounds"); do manual; done | median

echo "setup: kubectl netx setup, from nothing to an agent ready on every node"
t0=$(now)
"$netx" setup --image "$image" >/dev/null
awk -v a="$(now)" -v b="$t0" 'BEGIN {printf "%.2f s (once)\n", a - b}'
trap '"$netx" teardown >/dev/null 2>&1 || true' EXIT
echo "warm: the same trace, setup's agents already running"
for _ in $(seq "$rounds"); do cold; done | median
echo "live warm: the same --live trace, setup's agents already running"
for _ in $(seq "$rounds"); do live; done | median
