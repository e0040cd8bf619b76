//go:build linux

// Command netx-e2e starts and stops the e2e cluster:
//
//	netx-e2e up   [--proxy-mode iptables|nftables] [--cni bridge|none]
//	netx-e2e down
//
// make e2e-up builds what it needs first (Kubernetes binaries, images, netx).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	netxcluster "github.com/netx-project/netx/cluster"
	"github.com/netx-project/netx/e2e/cluster"
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: netx-e2e up|down [flags]")
		os.Exit(2)
	}
	home, _ := os.UserHomeDir()
	cache := filepath.Join(home, ".cache", "netx")
	if c := os.Getenv("NETX_CACHE"); c != "" {
		cache = c
	}
	version := envOr("K8S_VERSION", "v1.34.4")
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "/var/lib/netx-e2e", "where the cluster keeps its state")
	bin := fs.String("bin", filepath.Join(cache, "k8s", version, "bin"), "Kubernetes binaries (e2e/build-k8s.sh)")
	images := fs.String("images", filepath.Join(cache, "images"), "image layouts (e2e/images.sh)")
	netx := fs.String("netx", "bin/netx", "the netx binary")
	proxy := fs.String("proxy-mode", envOr("NETX_E2E_PROXY_MODE", "iptables"), "kube-proxy mode: iptables or nftables")
	cni := fs.String("cni", envOr("NETX_E2E_CNI", cluster.CNIBridge), "the pod network the nodes start with: bridge (the reference plugin) or none (nodes NotReady until kubectl netx setup --cni)")
	fs.Parse(os.Args[2:])
	if *cni != cluster.CNIBridge && *cni != cluster.CNINone {
		fmt.Fprintf(os.Stderr, "netx-e2e: --cni %q: use %s or %s\n", *cni, cluster.CNIBridge, cluster.CNINone)
		os.Exit(2)
	}
	if *proxy != "iptables" && *proxy != "nftables" {
		fmt.Fprintf(os.Stderr, "netx-e2e: --proxy-mode %q: use iptables or nftables\n", *proxy)
		os.Exit(2)
	}
	self, err := filepath.Abs(*netx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netx-e2e:", err)
		os.Exit(1)
	}
	spec := cluster.DefaultSpec(*dir, *bin, version, *proxy)
	spec.CNI = *cni
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := cluster.Options{Self: self, Images: *images, Progress: os.Stderr}
	if os.Args[1] == "up" {
		if o.AgentImage, err = agentImage(self); err != nil {
			fmt.Fprintln(os.Stderr, "netx-e2e:", err)
			os.Exit(1)
		}
	}
	if os.Args[1] == "up" {
		err = cluster.Up(ctx, spec, o)
	} else {
		err = cluster.Down(context.Background(), spec, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "netx-e2e:", err)
		if os.Args[1] == "up" {
			printLogTails(filepath.Join(*dir, "logs"), 20)
			fmt.Fprintf(os.Stderr, "component logs: %s/logs; clean up with: make e2e-down\n", *dir)
		}
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// printLogTails shows the end of every component's log, so a failure in
// CI says why without a shell on the machine.
func printLogTails(dir string, n int) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(os.Stderr, "==> %s <==\n%s\n", filepath.Base(l), strings.Join(lines, "\n"))
	}
}

// agentImage is the agent image netx names by default: its repository
// with the binary's version as the tag.
func agentImage(self string) (string, error) {
	out, err := exec.Command(self, "version", "-o", "json").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", self, err)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("%s version -o json: %q", self, out)
	}
	return netxcluster.DefaultImage(v.Version), nil
}
