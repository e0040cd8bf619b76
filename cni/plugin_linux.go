package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/netx-project/netx/datapath"
	"golang.org/x/sys/unix"
)

// nodeNetns is the namespace the plugin runs in: the node's (the
// container runtime runs plugins in its own).
const nodeNetns = "/proc/self/ns/net"

// Main runs the plugin as the container runtime calls it (CNI_COMMAND and
// the other CNI_ variables, the configuration on stdin) and returns the
// exit code; errors are printed as the spec's JSON error on stdout.
func Main(about string) int {
	err := skel.PluginMainFuncsWithError(skel.CNIFuncs{Add: Add, Del: Del, Check: Check, Status: Status, GC: GC}, Supported, about)
	if err != nil {
		if perr := err.Print(); perr != nil {
			fmt.Fprintln(os.Stderr, err.Error())
		}
		return 1
	}
	return 0
}

// hostVeth is the node end's name of a pod's interface: stable for the
// attachment, so that DEL finds it without the pod's namespace.
func hostVeth(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifName))
	return "netx" + hex.EncodeToString(sum[:4])
}

// podMAC is the pod interface's address: locally administered, from its
// IP (0a:58:IP, as the reference bridge plugin does), so that a pod's
// neighbours' caches stay right when an address comes back.
func podMAC(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x0a, 0x58, b[0], b[1], b[2], b[3]}
}

// Add attaches a pod: an address of the node's pod network, a veth pair
// whose node end is a port of the bridge (made with the gateway address
// when missing) and whose other end is the pod's interface, with the
// address and the default route via the bridge. An interface of that name
// already in the pod is an error, and a failed ADD leaves nothing: the
// pair is deleted and the address freed.
func Add(args *skel.CmdArgs) (err error) {
	c, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	cidr, err := c.podCIDR()
	if err != nil {
		return err
	}
	// The pod's namespace is only opened here; an interface of the name
	// already there fails the pair's creation below, and is named then
	// (a netlink handle in the pod's namespace costs more than the rest
	// of a check, on every ADD).
	if f, err := os.Open(args.Netns); err != nil {
		return types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("netx-cni: the pod's network namespace %s cannot be opened", args.Netns), err.Error())
	} else {
		f.Close()
	}
	node, err := datapath.OpenNetns(nodeNetns)
	if err != nil {
		return err
	}
	defer node.Close()

	s, err := openStore(c.DataDir, c.Name)
	if err != nil {
		return err
	}
	defer s.close()
	who := attachment{args.ContainerID, args.IfName}
	if ip, ok, err := s.find(who); err != nil {
		return err
	} else if ok {
		if podHasLink(args.Netns, args.IfName) {
			return errInterfaceExists(args)
		}
		return types.NewError(types.ErrInternal, fmt.Sprintf("netx-cni: container %s's %s already holds %s: DEL it first", args.ContainerID, args.IfName, ip), "")
	}
	ip, err := s.allocate(cidr, who)
	if err != nil {
		return err
	}
	host := hostVeth(args.ContainerID, args.IfName)
	defer func() {
		if err != nil {
			node.DeleteLink(host)
			s.release(who)
		}
	}()
	gw := gateway(cidr)
	// The bridge's MAC is fixed (from the gateway address): a bridge
	// takes its lowest port's otherwise, and the pods' neighbour caches
	// would go stale as pods come and go.
	if err := node.EnsureBridge(datapath.Bridge{Name: c.Bridge, MTU: c.MTU, Addr: gw, MAC: podMAC(gw.Addr())}); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("netx-cni: enable forwarding on the node: %w", err)
	}
	// A node end left by an ADD that was killed half-way.
	if err := node.DeleteLink(host); err != nil {
		return err
	}
	linker, err := node.PodLinker(c.Bridge)
	if err != nil {
		return err
	}
	mtu := c.MTU
	if mtu == 0 {
		mtu = 1500
	}
	mac := podMAC(ip)
	_, err = linker.AddVeth(datapath.PodVeth{HostName: host, MTU: mtu, PodNS: args.Netns, PodName: args.IfName, PodMAC: mac, Hairpin: true})
	linker.Close()
	if errors.Is(err, unix.EEXIST) && podHasLink(args.Netns, args.IfName) {
		return errInterfaceExists(args)
	}
	if err != nil {
		return err
	}
	addr := netip.PrefixFrom(ip, cidr.Bits())
	if err := datapath.ConfigurePod(args.Netns, nil, datapath.PodInterface{Name: args.IfName, Addr: addr, Gateway: gw.Addr()}); err != nil {
		return err
	}
	if ports := c.RuntimeConfig.PortMappings; len(ports) > 0 || c.ClusterCIDR != "" {
		if err := s.savePortmaps(who, ip, ports); err != nil {
			return err
		}
		if err := syncRules(c, cidr, s); err != nil {
			s.savePortmaps(who, ip, nil)
			syncRules(c, cidr, s)
			return err
		}
	}
	// The node end's and the bridge's addresses, for the result (one
	// lookup each; not a dump of every link on a busy node).
	hostMAC, bridgeMAC := "", ""
	if st, err := node.Link(host); err == nil {
		hostMAC = st.MAC.String()
	}
	if st, err := node.Link(c.Bridge); err == nil {
		bridgeMAC = st.MAC.String()
	}
	two := 2 // the pod's interface, in Interfaces
	res := &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		Interfaces: []*types100.Interface{
			{Name: c.Bridge, Mac: bridgeMAC},
			{Name: host, Mac: hostMAC},
			{Name: args.IfName, Mac: mac.String(), Sandbox: args.Netns},
		},
		IPs:    []*types100.IPConfig{{Interface: &two, Address: *ipNet(addr), Gateway: net.IP(gw.Addr().AsSlice())}},
		Routes: []*types.Route{{Dst: *ipNet(netip.PrefixFrom(netip.IPv4Unspecified(), 0)), GW: net.IP(gw.Addr().AsSlice())}},
	}
	return types.PrintResult(res, c.CNIVersion)
}

func errInterfaceExists(args *skel.CmdArgs) error {
	return types.NewError(types.ErrInternal, fmt.Sprintf("netx-cni: interface %s already exists in %s: ADD for container %s came twice, or another plugin made it", args.IfName, args.Netns, args.ContainerID), "")
}

// podHasLink says whether the pod's namespace has an interface of that
// name (after a failed ADD: to say why).
func podHasLink(netnsPath, name string) bool {
	pod, err := datapath.OpenNetns(netnsPath)
	if err != nil {
		return false
	}
	defer pod.Close()
	return pod.HasLink(name)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), 32)}
}

// Del detaches a pod: its address is freed and its veth pair deleted
// (through the node end, so a pod namespace already gone is no error).
// DEL of an attachment that is not there succeeds: the runtime may call
// it more than once.
func Del(args *skel.CmdArgs) error {
	c, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	s, err := openStore(c.DataDir, c.Name)
	if err != nil {
		return err
	}
	defer s.close()
	who := attachment{args.ContainerID, args.IfName}
	ip, err := s.release(who)
	if err != nil {
		return err
	}
	if _, err := os.Stat(s.portmapFile(who)); err == nil {
		if err := s.savePortmaps(who, ip, nil); err != nil {
			return err
		}
		if cidr, err := c.podCIDR(); err == nil {
			if err := syncRules(c, cidr, s); err != nil {
				return err
			}
		}
	}
	node, err := datapath.OpenNetns(nodeNetns)
	if err != nil {
		return err
	}
	defer node.Close()
	return node.DeleteLink(hostVeth(args.ContainerID, args.IfName))
}

// Check compares the attachment with what ADD made: the address held for
// it, the pod's interface with that address, up, and its default route via
// the gateway; the node end up and a port of the bridge; the bridge with
// the gateway address. The first difference is the error.
func Check(args *skel.CmdArgs) error {
	c, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	if err := version.ParsePrevResult(&c.PluginConf); err != nil {
		return types.NewError(types.ErrDecodingFailure, "netx-cni: CHECK: the previous result cannot be read", err.Error())
	}
	if c.PrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "netx-cni: CHECK needs the previous result (prevResult)", "")
	}
	cidr, err := c.podCIDR()
	if err != nil {
		return err
	}
	s, err := openStore(c.DataDir, c.Name)
	if err != nil {
		return err
	}
	ip, held, err := s.find(attachment{args.ContainerID, args.IfName})
	s.close()
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("netx-cni: CHECK: container %s's %s holds no address of %s", args.ContainerID, args.IfName, c.Name)
	}
	prev, err := types100.NewResultFromResult(c.PrevResult)
	if err != nil {
		return err
	}
	addr, gw := netip.PrefixFrom(ip, cidr.Bits()), gateway(cidr)
	if !slices.ContainsFunc(prev.IPs, func(p *types100.IPConfig) bool { return p.Address.String() == addr.String() }) {
		return fmt.Errorf("netx-cni: CHECK: the previous result does not hold %s, the address kept for container %s", addr, args.ContainerID)
	}
	pod, err := datapath.OpenNetns(args.Netns)
	if err != nil {
		return types.NewError(types.ErrInvalidNetNS, fmt.Sprintf("netx-cni: CHECK: the pod's network namespace %s cannot be opened", args.Netns), err.Error())
	}
	defer pod.Close()
	st, err := pod.Link(args.IfName)
	if err != nil {
		return fmt.Errorf("netx-cni: CHECK: %w", err)
	}
	if !slices.Contains(st.Addrs, addr) {
		return fmt.Errorf("netx-cni: CHECK: %s in %s lacks its address %s (has %v)", args.IfName, args.Netns, addr, st.Addrs)
	}
	if !st.Up {
		return fmt.Errorf("netx-cni: CHECK: %s in %s is down", args.IfName, args.Netns)
	}
	if ok, err := pod.HasRoute(datapath.DefaultRoute(args.IfName, gw.Addr())); err != nil {
		return fmt.Errorf("netx-cni: CHECK: %w", err)
	} else if !ok {
		return fmt.Errorf("netx-cni: CHECK: %s lacks its default route via %s dev %s", args.Netns, gw.Addr(), args.IfName)
	}
	node, err := datapath.OpenNetns(nodeNetns)
	if err != nil {
		return err
	}
	defer node.Close()
	host := hostVeth(args.ContainerID, args.IfName)
	hs, err := node.Link(host)
	if err != nil {
		return fmt.Errorf("netx-cni: CHECK: the node end of container %s's %s: %w", args.ContainerID, args.IfName, err)
	}
	if hs.Master != c.Bridge || !hs.Up {
		return fmt.Errorf("netx-cni: CHECK: the node end %s is not an up port of %s (master %q, up %v)", host, c.Bridge, hs.Master, hs.Up)
	}
	bs, err := node.Link(c.Bridge)
	if err != nil {
		return fmt.Errorf("netx-cni: CHECK: %w", err)
	}
	if !slices.Contains(bs.Addrs, gw) {
		return fmt.Errorf("netx-cni: CHECK: bridge %s lacks the gateway address %s", c.Bridge, gw)
	}
	return nil
}

// Status says whether the plugin can attach pods now: it needs the node's
// pod CIDR and a data directory it can write.
func Status(args *skel.CmdArgs) error {
	c, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	if _, err := c.podCIDR(); err != nil {
		return err
	}
	s, err := openStore(c.DataDir, c.Name)
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, err.Error(), "")
	}
	s.close()
	return nil
}

// GC frees the addresses of attachments the runtime no longer has (those
// not in cni.dev/valid-attachments) and their node ends.
func GC(args *skel.CmdArgs) error {
	c, err := loadConf(args.StdinData)
	if err != nil {
		return err
	}
	valid := map[attachment]bool{}
	for _, a := range c.ValidAttachments {
		valid[attachment{a.ContainerID, a.IfName}] = true
	}
	s, err := openStore(c.DataDir, c.Name)
	if err != nil {
		return err
	}
	defer s.close()
	held, err := s.held()
	if err != nil {
		return err
	}
	node, err := datapath.OpenNetns(nodeNetns)
	if err != nil {
		return err
	}
	defer node.Close()
	var errs []error
	resync := c.ClusterCIDR != ""
	for ip, a := range held {
		if valid[a] {
			continue
		}
		if _, err := os.Stat(s.portmapFile(a)); err == nil {
			resync = true
		}
		if err := s.free(ip, a); err != nil {
			errs = append(errs, err)
		}
		if err := node.DeleteLink(hostVeth(a.containerID, a.ifName)); err != nil {
			errs = append(errs, err)
		}
		if err := s.savePortmaps(a, ip, nil); err != nil {
			errs = append(errs, err)
		}
	}
	if cidr, err := c.podCIDR(); err == nil && resync {
		if err := syncRules(c, cidr, s); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netx-cni: GC: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
