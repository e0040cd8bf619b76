//go:build linux

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/netx-project/netx/inspect"
	"github.com/netx-project/netx/netfilter"
)

// What a fixture's volatile parts become.
var (
	// taken is every fixture's snapshot time.
	taken = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Namespace inodes and PIDs are numbered from these, in the order the
	// shape's snapshots list them (node first), across all its nodes, so
	// a reference from one node's file to another's stays true.
	firstInode = uint64(4026532001)
	firstPID   = 1001
	// conntrackMax stands for the machine's table size.
	conntrackMax = 262144
)

var (
	// randomVeth is the host end the reference plugins name at random.
	randomVeth = regexp.MustCompile(`^veth[0-9a-f]{8}$`)
	macAddr    = regexp.MustCompile(`\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b`)
	procPath   = regexp.MustCompile(`^/proc/(\d+)/ns/net$`)
)

// normalise turns one shape's snapshots into fixture documents that a
// second run reproduces: pods named (the generator plays the container
// runtime), the time fixed, namespace inodes, PIDs and random MACs
// renumbered consistently across the shape's nodes, the plugins' random
// host veth names replaced by names derived from their pod, counters
// zeroed, multicast neighbour entries dropped (they appear at a random
// moment), and the machine's own parts dropped (discovery sources other
// than /proc and /run/netns, conntrack's size, an iptables backend holding
// no rule at all).
func normalise(snaps []*inspect.Snapshot, pods map[string]*inspect.PodRef, fixedMACs map[string]bool, shape string) ([][]byte, error) {
	inodes := map[uint64]uint64{}
	inode := func(v uint64) uint64 {
		if n, ok := inodes[v]; ok {
			return n
		}
		inodes[v] = firstInode + uint64(len(inodes))
		return inodes[v]
	}
	pids := map[int]int{}
	pid := func(v int) int {
		if v == 0 {
			return 0
		}
		if n, ok := pids[v]; ok {
			return n
		}
		pids[v] = firstPID + len(pids)
		return pids[v]
	}
	vethNames := map[string]string{}

	for _, s := range snaps {
		s.Taken = taken
		s.Sources = slices.DeleteFunc(s.Sources, func(x inspect.SourceStatus) bool {
			return x.Name != inspect.SourceProc && x.Name != inspect.SourceNetnsDir
		})
		for _, n := range s.Namespaces {
			if ref, ok := pods[n.Path]; ok {
				r := *ref
				n.Pod = &r
			}
		}
		slices.SortStableFunc(s.Namespaces, func(a, b *inspect.Netns) int { return strings.Compare(a.PodName(), b.PodName()) })
		for _, n := range s.All() {
			n.Inode = inode(n.Inode)
			if n.Error != "" || len(n.Warnings) > 0 {
				return nil, fmt.Errorf("namespace %s: %s %v", n.Path, n.Error, n.Warnings)
			}
		}
	}
	for _, s := range snaps {
		if s.Node.Conntrack != nil {
			s.Node.Conntrack = &inspect.Conntrack{Count: 0, Max: conntrackMax}
		}
		s.Node.Netfilter = slices.DeleteFunc(s.Node.Netfilter, func(rs *netfilter.Ruleset) bool { return ruleCount(rs) == 0 })
		for _, rs := range s.Node.Netfilter {
			zeroCounters(rs)
		}
		for _, n := range s.All() {
			for i := range n.Links {
				l := &n.Links[i]
				if l.Peer == nil {
					continue
				}
				l.Peer.Inode = inode(l.Peer.Inode)
				if n.Pod != nil && randomVeth.MatchString(l.Peer.Name) {
					h := sha256.Sum256([]byte(shape + " " + n.PodName()))
					vethNames[l.Peer.Name] = "veth" + hex.EncodeToString(h[:4])
				}
			}
			if m := procPath.FindStringSubmatch(n.Path); m != nil {
				var v int
				fmt.Sscan(m[1], &v)
				n.Path = fmt.Sprintf("/proc/%d/ns/net", pid(v))
			}
			// The IGMP report that makes a link's 224.0.0.22 entry goes
			// out at a random moment after the link comes up.
			n.Neighbors = slices.DeleteFunc(n.Neighbors, func(nb inspect.Neighbor) bool {
				ip, err := netip.ParseAddr(nb.IP)
				return err == nil && ip.IsMulticast()
			})
			n.PausePID = pid(n.PausePID)
			for i := range n.Processes {
				n.Processes[i].PID = pid(n.Processes[i].PID)
			}
			for i := range n.Listeners {
				n.Listeners[i].PID = pid(n.Listeners[i].PID)
			}
		}
	}

	// Names and MACs are strings anywhere (links, routes, FDB, peer
	// routes): replace them in the encoded text.
	var pairs []string
	for from, to := range vethNames {
		pairs = append(pairs, from, to)
	}
	rename := strings.NewReplacer(pairs...)
	macs := map[string]string{}
	var docs [][]byte
	for _, s := range snaps {
		b, err := encode(s)
		if err != nil {
			return nil, err
		}
		text := macAddr.ReplaceAllStringFunc(rename.Replace(string(b)), func(m string) string {
			if fixedMACs[m] || m == "00:00:00:00:00:00" || multicast(m) {
				return m
			}
			if _, ok := macs[m]; !ok {
				k := len(macs) + 1
				macs[m] = fmt.Sprintf("02:00:00:00:%02x:%02x", k>>8, k&0xff)
			}
			return macs[m]
		})
		docs = append(docs, []byte(text))
	}
	return docs, nil
}

func ruleCount(rs *netfilter.Ruleset) int {
	n := 0
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			n += len(c.Rules)
		}
	}
	return n
}

func zeroCounters(rs *netfilter.Ruleset) {
	for _, t := range rs.Tables {
		for _, c := range t.Chains {
			c.Counters = netfilter.Counters{}
			for _, r := range c.Rules {
				r.Counters = netfilter.Counters{}
			}
		}
	}
}

// multicast says whether a MAC is a group address (broadcast included):
// those are standard, not random.
func multicast(mac string) bool {
	var b byte
	fmt.Sscanf(mac[:2], "%x", &b)
	return b&1 == 1
}
