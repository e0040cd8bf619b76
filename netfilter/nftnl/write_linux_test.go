package nftnl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netx-project/netx/internal/nsenter"
	"github.com/netx-project/netx/internal/testenv"
	"github.com/netx-project/netx/netfilter"
)

var update = flag.Bool("update", false, "rewrite nft's listings of the fixtures under ../testdata/nft-listed")

// listedPath is where package netfilter's writer tests keep what nft
// lists for fixture, loaded into an empty namespace.
func listedPath(fixture string) string {
	return filepath.Join("..", "testdata", "nft-listed", filepath.Base(fixture))
}

// respell replaces listed rules in a listing with the text the kernel
// lists for them once written: each pair is a rule's text and its new
// one, a tab-indented line of the listing.
func respell(listing string, pairs ...[2]string) string {
	for _, p := range pairs {
		listing = strings.ReplaceAll(listing, "\t\t"+p[0]+"\n", "\t\t"+p[1]+"\n")
	}
	return listing
}

func parseText(t *testing.T, text, what string) *netfilter.Ruleset {
	t.Helper()
	rs, err := netfilter.ParseNFT(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse %s: %v", what, err)
	}
	return rs
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRootNFTListings: the listings the writer's tests compare with are
// what nft lists after loading each fixture; -update rewrites them.
func TestRootNFTListings(t *testing.T) {
	testenv.RequireRoot(t)
	for _, path := range nftFixtures {
		t.Run(filepath.Base(path), func(t *testing.T) {
			script, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ns := throwawayNetns(t)
			nftLoad(t, ns, string(script))
			out, err := nsenter.Output(nsenter.Net(ns), nil, "nft", "list", "ruleset")
			if err != nil {
				t.Fatalf("nft list ruleset: %v", err)
			}
			if *update {
				if err := os.WriteFile(listedPath(path), out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(listedPath(path))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				onlyGot, onlyWant := testenv.DiffLines(string(out), string(want))
				t.Errorf("nft lists otherwise than %s (go test -run TestRootNFTListings -update rewrites it):\nonly listed now:\n%s\nonly in the file:\n%s",
					listedPath(path), strings.Join(onlyGot, "\n"), strings.Join(onlyWant, "\n"))
			}
		})
	}
}

// writeNFT loads rs into the namespace as the script WriteNFT writes,
// one nft -f transaction, and returns the script.
func writeNFT(t *testing.T, ns string, rs *netfilter.Ruleset, o netfilter.NFTWriteOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := rs.WriteNFT(&b, o); err != nil {
		t.Fatal(err)
	}
	script := b.String()
	if _, err := nsenter.Output(nsenter.Net(ns), strings.NewReader(script), "nft", "-f", "-"); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, script)
	}
	return script
}

// requireKernelHolds reads the namespace's ruleset over netlink and
// requires it to be want, rule texts included: what was written is what
// the kernel lists. Handles are the kernel's, counters may have moved,
// and nft lists a named set's elements in the kernel's order.
func requireKernelHolds(t *testing.T, ns string, want *netfilter.Ruleset, script string) {
	t.Helper()
	got, _, err := Read(ns)
	if err != nil {
		t.Fatal(err)
	}
	if d := netfilter.Diff(got, want, netfilter.DiffOptions{Handles: true, Counters: true, ElementOrder: true}); len(d) > 0 {
		t.Errorf("the kernel holds otherwise than written, in %d places:\n%s\nscript:\n%s", len(d), strings.Join(d, "\n"), script)
	}
}

// TestRootWriteNFT writes each fixture's model into a throwaway
// namespace and reads it back over netlink. The model is that of nft's
// listing of the fixture, whose Text is what nft prints, so reading back
// compares the written text too: it must be the listing, but for the
// rules respell names. It is written twice, replacing, and must come
// out the same (the script replaces its tables rather than doubling
// their rules). Then the model of the fixture as written (a script's own
// spelling) goes into a fresh namespace and must come out as loading the
// fixture itself does. The fixtures' iptables-nft tables are native
// rules once nft -f loads them, so none is skipped.
func TestRootWriteNFT(t *testing.T) {
	testenv.RequireRoot(t)
	// netfilter's nftRespelled (its tests say why): a whole-state
	// compare the writer writes as the bit test.
	stateCompared := [2]string{"ct state == established accept", "ct state established accept"}
	// A listing that does not load back as itself. The fixture wrote
	// meta l4proto tcp twice before tcp dport; nft lists one and leaves
	// the other out as tcp dport's dependency. Loaded as listed, the one
	// left is the dependency, and nft leaves it out too: the writer
	// wrote the listed text, nft lists it anew.
	dependencyTwice := [2]string{"meta l4proto tcp tcp dport 80 accept", "tcp dport 80 accept"}
	for _, path := range nftFixtures {
		t.Run(filepath.Base(path), func(t *testing.T) {
			listing := readText(t, listedPath(path))
			listed := parseText(t, listing, listedPath(path))
			want := parseText(t, respell(listing, stateCompared, dependencyTwice), "respelled listing")
			ns := throwawayNetns(t)
			for range 2 {
				script := writeNFT(t, ns, listed, netfilter.NFTWriteOptions{Replace: true})
				requireKernelHolds(t, ns, want, script)
			}

			// The fixture's doubled dependency is in its model, and
			// written as it is listed.
			want = parseText(t, respell(listing, stateCompared), "respelled listing")
			fresh := throwawayNetns(t)
			script := writeNFT(t, fresh, parseText(t, readText(t, path), path), netfilter.NFTWriteOptions{})
			requireKernelHolds(t, fresh, want, script)
		})
	}
}
