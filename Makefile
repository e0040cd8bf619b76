# netx: `make demo` builds netx and runs its lab; `make test` runs every test.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/netx-project/netx/cmd.Version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: all setup build demo demo-down test unit bench fmt krew clean image e2e e2e-build e2e-up e2e-down testdata-cluster testdata-snapshots

all: build

setup:
	@hack/setup.sh

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/kubectl-netx .
	@ln -sf kubectl-netx $(BIN)/netx
	$(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o $(BIN)/netx-cni ./cni/cmd/netx-cni
	$(GO) build -trimpath -ldflags '-s -w' -o $(BIN)/netx-pod ./lab/cmd/netx-pod

# The main job on the built-in lab: build seeds.yaml, show it, send traffic.
demo: setup build
	@hack/demo.sh $(BIN)/netx

demo-down: build
	$(BIN)/netx datapath down seeds

# All tests. Root-only tests (TestRoot*) skip without root, and fail instead
# when NETX_PRIVILEGED_TESTS=1 (CI sets it and runs as root).
test: setup
	$(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...   # krew platforms must compile
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

unit:
	$(GO) test -count=1 ./...

# An image of netx itself (static binary in an OCI layout, no registry),
# for the node agent: ~/.cache/netx/images/netx.tar.
image: build
	NETX_VERSION=$(VERSION) NETX_BIN=$(BIN)/kubectl-netx e2e/images.sh

# The e2e cluster (docs/e2e.md): two real Kubernetes nodes on the netx lab.
E2E_PROXY_MODE ?= iptables
# E2E_CNI=none starts the nodes without a pod network (NotReady), for
# kubectl netx setup --cni.
E2E_CNI ?= bridge
# With E2E_CNI=none, TestE2ECNI installs netx's CNI with this overlay.
E2E_CNI_OVERLAY ?= host-gw
e2e-build: build
	@hack/setup.sh --e2e
	e2e/build-k8s.sh
	NETX_VERSION=$(VERSION) NETX_BIN=$(BIN)/kubectl-netx e2e/images.sh
	$(GO) build -o $(BIN)/netx-e2e ./e2e/cmd/netx-e2e

e2e-up: e2e-build
	$(BIN)/netx-e2e up --netx $(BIN)/netx --proxy-mode $(E2E_PROXY_MODE) --cni $(E2E_CNI)
	@echo "kubectl: export KUBECONFIG=/var/lib/netx-e2e/kubeconfig PATH=$$HOME/.cache/netx/k8s/$${K8S_VERSION:-v1.34.4}/bin:\$$PATH"

e2e-down:
	@test -x $(BIN)/netx-e2e || $(GO) build -o $(BIN)/netx-e2e ./e2e/cmd/netx-e2e
	$(BIN)/netx-e2e down

# Up, smoke tests, down (also when up or the tests fail).
e2e: e2e-build
	@$(MAKE) --no-print-directory e2e-up || { $(MAKE) --no-print-directory e2e-down; exit 1; }
	NETX_E2E=1 NETX_E2E_PROXY_MODE=$(E2E_PROXY_MODE) NETX_E2E_CNI=$(E2E_CNI) NETX_E2E_CNI_OVERLAY=$(E2E_CNI_OVERLAY) NETX_E2E_SAVE_DUMPS=$(NETX_E2E_SAVE_DUMPS) $(GO) test -count=1 -v -timeout 20m ./e2e/... ; rc=$$?; $(MAKE) e2e-down; exit $$rc

# Real kube-proxy rule dumps (both modes) with their objects, for trace's
# table tests: testdata/cluster/<mode>/.
testdata-cluster:
	$(MAKE) e2e E2E_PROXY_MODE=iptables NETX_E2E_SAVE_DUMPS=1
	$(MAKE) e2e E2E_PROXY_MODE=nftables NETX_E2E_SAVE_DUMPS=1

# Snapshots of the node shapes CNIs leave behind (bridge + portmap, ptp,
# calico, flannel VXLAN), built in throwaway namespaces and taken with
# netx's own inspect, for inspect's and trace's table tests:
# testdata/snapshots/<shape>/<node>.json. Needs root.
testdata-snapshots:
	$(GO) run ./hack/snapshots -out testdata/snapshots

bench: setup build
	$(GO) run ./hack/bench --netx $(BIN)/netx --pods 10,100,200,500

fmt:
	gofmt -w $$(git ls-files '*.go')

# Release archives for every krew platform and the rendered krew manifest.
krew:
	hack/krew.sh $(VERSION)

clean:
	rm -rf $(BIN)
