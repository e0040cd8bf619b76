package inspect

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/kubeproxy"
	"github.com/netx-project/netx/netfilter"
)

// encoderOutput is what netx snapshot wrote before WriteSnapshot, and
// what WriteSnapshot must go on writing.
func encoderOutput(t testing.TB, v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeSample() *Snapshot {
	return &Snapshot{Version: SchemaVersion, Taken: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Node: &Netns{Inode: 1, Path: "/proc/self/ns/net", Links: []Link{{Index: 3, Name: "cni0", Kind: "bridge", Addrs: []string{"10.244.1.1/24"}}}},
		Namespaces: []*Netns{{Inode: 2, Path: "/proc/42/ns/net", Pod: &PodRef{Namespace: "default", Name: "pod-a"}, PausePID: 42,
			Links: []Link{{Index: 2, Name: "eth0", Kind: "veth", Addrs: []string{"10.244.1.2/24"}, Peer: &PeerRef{Inode: 1, Index: 7, Name: "veth1", Bridge: "cni0"}}}}},
		Sources: []SourceStatus{{Name: SourceProc, Used: true}, {Name: SourceCRI, Error: "no runtime"}}}
}

func TestWriteSnapshotIsEncoders(t *testing.T) {
	ipt, err := kubeproxy.Build(kubeproxy.ModeIPTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(50))
	if err != nil {
		t.Fatal(err)
	}
	nft, err := kubeproxy.Build(kubeproxy.ModeNFTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(50))
	if err != nil {
		t.Fatal(err)
	}
	withRules := writeSample()
	withRules.Node.Netfilter = []*netfilter.Ruleset{ipt.IPTables, nft.NFTables}
	withRules.Node.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
	withRules.Node.FoundBy = []string{}
	odd := writeSample()
	odd.Node.Warnings = []string{`quotes " and \ backslashes \" {[,:]}`, "<html> & tags", "ünïcode \u2028 \x01", "", `\`, `"`}
	odd.Node.Names = []string{"[]", "{}", ": ,"}
	for name, s := range map[string]*Snapshot{"sample": writeSample(), "rules": withRules, "odd strings": odd, "empty": {}} {
		var got bytes.Buffer
		if err := WriteSnapshot(&got, s); err != nil {
			t.Fatal(err)
		}
		if want := encoderOutput(t, s); !bytes.Equal(got.Bytes(), want) {
			i := 0
			for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
				i++
			}
			t.Errorf("%s: differs from json.Encoder at byte %d:\n got %q\nwant %q", name, i, got.Bytes()[max(0, i-40):min(got.Len(), i+40)], want[max(0, i-40):min(len(want), i+40)])
		}
	}
}

func FuzzWriteIndented(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[{},[],{"b":null}],"c":"x\"y\\","d":-1.5e3,"e":true}`, `[1,[2,[3]],"]"]`, `"s"`, `0`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var compact bytes.Buffer
		if json.Compact(&compact, in) != nil {
			return
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "", " "); err != nil {
			t.Fatal(err)
		}
		want.WriteByte('\n')
		var got bytes.Buffer
		if err := writeIndented(&got, compact.Bytes()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%q: got %q, want %q", compact.Bytes(), got.Bytes(), want.Bytes())
		}
	})
}

// BenchmarkWriteSnapshot writes the snapshot of a node holding 10k
// services' kube-proxy rules (iptables mode), as netx snapshot does.
func BenchmarkWriteSnapshot(b *testing.B) {
	node, err := kubeproxy.Build(kubeproxy.ModeIPTables, kubeproxy.SyntheticConfig(), kubeproxy.Synthetic(10000))
	if err != nil {
		b.Fatal(err)
	}
	s := writeSample()
	s.Node.Netfilter = []*netfilter.Ruleset{node.IPTables}
	var n countingWriter
	for b.Loop() {
		if err := WriteSnapshot(&n, s); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n.n / int64(b.N))
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// TestWriteSnapshotFile: a plain and a .gz file each read back as what was
// written (the .gz one compressed), and an unwritable path names itself.
func TestWriteSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	want := encoderOutput(t, writeSample())
	for _, name := range []string{"node1.json", "node1.json.gz"} {
		path := filepath.Join(dir, name)
		if err := WriteSnapshotFile(path, writeSample()); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if gz := bytes.HasPrefix(raw, []byte{0x1f, 0x8b}); gz != strings.HasSuffix(name, ".gz") {
			t.Errorf("%s: compressed %v", name, gz)
		}
		s, err := ReadSnapshotFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := encoderOutput(t, s); !bytes.Equal(got, want) {
			t.Errorf("%s reads back as\n%s\nwant\n%s", name, got, want)
		}
	}
	bad := filepath.Join(dir, "missing", "node1.json")
	if err := WriteSnapshotFile(bad, writeSample()); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("unwritable path: %v", err)
	}
}
