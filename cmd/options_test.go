package cmd

import (
	"strings"
	"testing"
)

// TestValidateErrors: each bad flag or argument is refused before any
// work, with one line naming it and the fix, and exit code 1.
func TestValidateErrors(t *testing.T) {
	snap := "--snapshot=../testdata/snapshots/cni-bridge/node1.json"
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"version", "-o", "yaml"}, `unknown output format "yaml"; use text or json`},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh"; use bash, zsh, fish or powershell`},
		{[]string{"inspect", snap, "-o", "xml"}, `unknown output format "xml"; use text, json, yaml`},
		{[]string{"inspect", snap, "a", "b"}, "inspect a b: say node, pod/NAME, or netns REF"},
		{[]string{"trace", "a", "b", snap, "-o", "svg"}, `unknown output format "svg"; use text, json, yaml, mermaid, dot`},
		{[]string{"trace", "a", "b", snap, "--protocol", "gre"}, `--protocol "gre": use tcp, udp, icmp or sctp`},
		{[]string{"trace", "a", "b", snap, "--color", "sometimes"}, `--color "sometimes": use auto, always or never`},
		{[]string{"trace", "a", "b", snap, "--lab", "x"}, "--lab, --snapshot and --host-netns each name where the state comes from: give one of them"},
		{[]string{"trace", "a", "b", snap, "--pcap", "x.pcap"}, "--pcap writes the live probe's captures: add --live"},
		{[]string{"trace", "a", "b", snap, "--endpoint", "b-1"}, `--endpoint "b-1": give the endpoint's IP address`},
		{[]string{"datapath", "status", "-o", "wide"}, `unknown output format "wide"; use text, json, yaml`},
		{[]string{"datapath", "validate", "-o", "text"}, `unknown output format "text"; use yaml, json`},
		{[]string{"datapath", "down", "Bad_Name"}, `"Bad_Name" is not a lab name`},
		{[]string{"datapath", "exec", "pod-a", "hostname"}, "put the command after --"},
		{[]string{"setup", "--dry-run=maybe"}, `--dry-run "maybe": use none, client or server`},
		{[]string{"setup", "--dry-run=client"}, "--dry-run=client prints the objects: add -o yaml or -o json"},
		{[]string{"setup", "-o", "yaml"}, "-o yaml prints the objects of --dry-run=client"},
		{[]string{"setup", "--timeout", "0s"}, "--timeout 0s: give a positive duration"},
		{[]string{"setup", "--force"}, "--force, --cni-bin-dir, --cni-conf-dir, --cni-overlay and --cluster-cidr are for --cni"},
		{[]string{"setup", "--cni", "--cni-overlay", "geneve"}, `--cni-overlay "geneve": use host-gw or vxlan`},
		{[]string{"setup", "--cni", "--cluster-cidr", "10.244.1.0/16"}, `--cluster-cidr "10.244.1.0/16": give the cluster's IPv4 pod network like 10.244.0.0/16`},
		{[]string{"setup", "--cni", "--dry-run=client", "-o", "yaml"}, "--dry-run=client --cni reads no cluster, so it cannot find the pod network: add --cluster-cidr"},
		{[]string{"setup", "--cni", "--cni-conf-dir", "etc/cni"}, `"etc/cni": give the node's directory as an absolute path`},
		{[]string{"setup", "--kubeconfig", "/nonexistent/kubeconfig"}, "/nonexistent/kubeconfig"},
		{[]string{"teardown", "--kubeconfig", "/nonexistent/kubeconfig"}, "/nonexistent/kubeconfig"},
	} {
		code, out, errOut := run(t, append([]string{"netx"}, c.argv...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and one line with %q", strings.Join(c.argv, " "), code, out, errOut, c.want)
		}
	}
}

// TestSetupDryRunNeedsNoCluster: --dry-run=client -o yaml prints every
// object without a kubeconfig, with the image asked for.
func TestSetupDryRunNeedsNoCluster(t *testing.T) {
	t.Setenv("KUBECONFIG", "/nonexistent/kubeconfig")
	code, out, errOut := run(t, "netx", "setup", "--dry-run=client", "-o", "yaml", "--image", "example/netx:v9")
	if code != 0 || strings.Count(out, "\n---\n") != 3 || !strings.Contains(out, "image: example/netx:v9") || errOut != "" {
		t.Errorf("exit %d, stderr %q:\n%s", code, errOut, out)
	}
}

// TestPauseFlags: pause parses its own flags (no command tree); a bad one
// exits 2.
func TestPauseFlags(t *testing.T) {
	code, out, errOut := run(t, "netx", "datapath", "pause", "--bogus")
	if code != 2 || out != "" || errOut != "error: datapath pause: unknown flag: --bogus\n" {
		t.Errorf("pause --bogus: exit %d, %q %q", code, out, errOut)
	}
}
