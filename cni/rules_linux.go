package cni

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
)

// portmapPod is what the plugin keeps of an attachment with hostPorts,
// to write every pod's rules whenever one changes.
type portmapPod struct {
	ContainerID string        `json:"containerID"`
	IfName      string        `json:"ifName"`
	IP          netip.Addr    `json:"ip"`
	Ports       []PortMapping `json:"ports"`
}

func (s *store) portmapFile(a attachment) string {
	sum := sha256.Sum256([]byte(a.containerID + "/" + a.ifName))
	return filepath.Join(s.dir, "portmaps", hex.EncodeToString(sum[:16])+".json")
}

// savePortmaps records (or, with no ports, forgets) a's hostPorts.
func (s *store) savePortmaps(a attachment, ip netip.Addr, ports []PortMapping) error {
	f := s.portmapFile(a)
	if len(ports) == 0 {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(portmapPod{a.containerID, a.ifName, ip, ports})
	if err != nil {
		return err
	}
	return writeAtomic(f, 0o600, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// portmaps are every attachment's hostPorts, in a stable order.
func (s *store) portmaps() ([]portmapPod, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "portmaps"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []portmapPod
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.dir, "portmaps", e.Name()))
		if err != nil {
			return nil, err
		}
		var p portmapPod
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("netx-cni: %s: %w", e.Name(), err)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b portmapPod) int { return strings.Compare(a.ContainerID+a.IfName, b.ContainerID+b.IfName) })
	return out, nil
}

// ownedChain says whether a nat chain is the plugin's: the portmap
// layout's chains and netx's masquerading.
func ownedChain(table, chain string) bool {
	return table == "nat" && (chain == kubeproxy.NetxPostrouting || strings.HasPrefix(chain, "CNI-HOSTPORT-") || strings.HasPrefix(chain, kubeproxy.CNIDNPrefix))
}

// syncRules writes the node's share of the plugin's rules — every pod's
// hostPorts in the portmap plugin's layout, and masquerading of pod
// traffic leaving clusterCIDR when one is configured — through the same
// writers as the lab (package kubeproxy), and loads only what differs
// from the node's live nat table (iptables-restore --noflush): kube-proxy's
// and everyone else's rules stay as they are.
func syncRules(c *NetConf, cidr netip.Prefix, s *store) error {
	pods, err := s.portmaps()
	if err != nil {
		return err
	}
	b := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
	b.Table("nat")
	if c.ClusterCIDR != "" {
		cl, err := netip.ParsePrefix(c.ClusterCIDR)
		if err != nil {
			return fmt.Errorf("netx-cni: clusterCIDR %q: %w", c.ClusterCIDR, err)
		}
		kubeproxy.Masquerade(b, cl)
	}
	var pm []kubeproxy.PortmapPod
	for _, p := range pods {
		pp := kubeproxy.PortmapPod{ContainerID: p.ContainerID, IP: p.IP}
		for _, m := range p.Ports {
			pp.Ports = append(pp.Ports, kubeproxy.HostPort{HostPort: uint16(m.HostPort), ContainerPort: uint16(m.ContainerPort), Protocol: strings.ToLower(m.Protocol)})
		}
		pm = append(pm, pp)
	}
	if err := kubeproxy.Portmap(b, c.Name, cidr, pm); err != nil {
		return fmt.Errorf("netx-cni: %w", err)
	}
	want, err := b.Ruleset()
	if err != nil {
		return fmt.Errorf("netx-cni: %w", err)
	}
	// What was loaded last time: the same again needs no look at the node
	// (most ADDs: a pod without hostPorts).
	var written bytes.Buffer
	if err := want.WriteIPTablesSave(&written, false); err != nil {
		return fmt.Errorf("netx-cni: %w", err)
	}
	sum := sha256.Sum256(written.Bytes())
	marker := filepath.Join(s.dir, "rules.sha256")
	if b, err := os.ReadFile(marker); err == nil && string(b) == hex.EncodeToString(sum[:]) {
		return nil
	}
	if err := loadOwned("", "", want); err != nil {
		return err
	}
	return os.WriteFile(marker, []byte(hex.EncodeToString(sum[:])), 0o600)
}

// loadOwned makes the nat table of the network namespace at netnsPath
// ("": the plugin's own) hold want's share of the plugin's chains, and
// changes nothing else (netfilter.WriteOwnedRestore). root, when set, is
// the node's root directory whose iptables is run (netx in a container).
func loadOwned(netnsPath, root string, want *netfilter.Ruleset) error {
	run := func(stdin io.Reader, prog string, args ...string) ([]byte, error) {
		if netnsPath == "" && root == "" {
			cmd := exec.Command(tool(prog), args...)
			cmd.Stdin = stdin
			var errb bytes.Buffer
			cmd.Stderr = &errb
			out, err := cmd.Output()
			if err != nil {
				return out, fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
			}
			return out, nil
		}
		path, err := toolIn(root, prog)
		if err != nil {
			return nil, err
		}
		return nsenter.Output(nsenter.Target{Net: netnsPath, Root: root}, stdin, path, args...)
	}
	out, err := run(nil, "iptables-save", "-t", "nat")
	if err != nil {
		return fmt.Errorf("netx-cni: iptables-save -t nat: %w", err)
	}
	live, err := netfilter.ParseIPTablesSave(bytes.NewReader(out), netfilter.SourceIPTablesNFT)
	if err != nil {
		return fmt.Errorf("netx-cni: read the node's nat table: %w", err)
	}
	var text bytes.Buffer
	changed, err := want.WriteOwnedRestore(&text, live, ownedChain)
	if err != nil || !changed {
		return err
	}
	if out, err := run(&text, "iptables-restore", "--noflush", "-w", "5"); err != nil {
		return fmt.Errorf("netx-cni: iptables-restore --noflush: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveRules takes the plugin's chains (hostPorts, masquerading) and the
// jumps into them out of the nat table of the network namespace at
// netnsPath ("": this process's), with the iptables of the node's root
// directory root ("": this process's); every other rule stays.
func RemoveRules(netnsPath, root string) error {
	b := netfilter.NewIPTablesBuilder(netfilter.FamilyIP, netfilter.SourceIPTablesNFT)
	b.Table("nat")
	want, err := b.Ruleset()
	if err != nil {
		return err
	}
	return loadOwned(netnsPath, root, want)
}

// toolIn finds a program of the node whose root directory is root ("":
// this process's): its path inside root. A symlink there (Debian's
// alternatives) counts: it resolves inside root, where it runs.
func toolIn(root, name string) (string, error) {
	if root == "" {
		return tool(name), nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"} {
		if _, err := os.Lstat(filepath.Join(root, d, name)); err == nil {
			return filepath.Join(d, name), nil
		}
	}
	return "", fmt.Errorf("netx-cni: %s is not installed on the node (looked in %s)", name, root)
}

// tool finds a program of the node's: on PATH, else where Debian, RHEL
// and the others keep iptables (a runtime may run plugins with a bare
// environment).
func tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return filepath.Join(d, name)
		}
	}
	return name
}
