package printers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/netx-project/netx/lab/labstate"
)

func TestLabStatus(t *testing.T) {
	s := &labstate.Status{Lab: "x", Source: "x.yaml", Overlay: "host-gw", Proxy: "iptables", Complete: true,
		Nodes: []labstate.NodeStatus{{Name: "node1", IP: "192.168.77.11", PodCIDR: "10.244.1.0/24", Netns: "/run/netns/netx.x.node1"}},
		Pods: []labstate.PodStatus{{Name: "two", Namespace: "default", Node: "node1", IP: "10.244.1.2", PID: 42, Running: true, Netns: "/proc/42/ns/net",
			Containers: []labstate.ContainerStatus{{Name: "a", State: "running"}, {Name: "b", State: "error", Error: "listen tcp :80: bind: address already in use"}}}},
		Services: []labstate.ServiceStatus{{Name: "s", Namespace: "default", Type: "NodePort", ClusterIP: "10.96.0.10",
			Ports: []labstate.PortStatus{{Port: 80, TargetPort: "8080", NodePort: 30080, Protocol: "TCP"}}, Endpoints: []string{"10.244.1.2:8080"}}},
	}
	var b bytes.Buffer
	LabStatus(&b, s)
	for _, want := range []string{"default/two", "1/2", "Error", "address already in use", "80:30080/TCP", "/proc/42/ns/net"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := Write(&b, "json", s); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	pods := back["pods"].([]any)
	pod := pods[0].(map[string]any)
	for _, k := range []string{"name", "namespace", "node", "ip", "netns", "pid", "hostNetwork", "containers"} {
		if _, ok := pod[k]; !ok {
			t.Errorf("status -o json pod lacks %q", k)
		}
	}
	b.Reset()
	if err := Write(&b, "yaml", s); err != nil || !strings.Contains(b.String(), "clusterIP: 10.96.0.10") {
		t.Errorf("yaml: %v\n%s", err, b.String())
	}
}

// TestLabUpDown: what up and down say, word for word.
func TestLabUpDown(t *testing.T) {
	var b bytes.Buffer
	LabBuilding(&b, LabPlan{Lab: "seeds", Source: "seeds (built-in)", Overlay: "host-gw", Proxy: "iptables", Nodes: 2, Pods: 9, Services: 3, Clients: 1})
	LabBuilt(&b, LabUp{Lab: "seeds", Elapsed: 1234567 * time.Microsecond, ExamplePod: "pod-a", ExampleTarget: "10.96.0.10:80",
		Containers: []ContainerStart{{Pod: "default/a", Container: "c"}, {Pod: "default/two", Container: "b", Error: "bind: address already in use", Expected: true}}})
	LabBuilt(&b, LabUp{Lab: "seeds", Reused: true, ExamplePod: "pod-a", ExampleTarget: "10.96.0.10:80"})
	LabBuilt(&b, LabUp{Lab: "seeds", Reused: true, Resumed: true, ExamplePod: "pod-a", ExampleTarget: "10.96.0.10:80"})
	LabRemoved(&b, LabDown{})
	LabRemoved(&b, LabDown{Lab: "seeds"})
	LabRemoved(&b, LabDown{Lab: "seeds", Found: true, Processes: 12, Namespaces: 14})
	want := `building lab seeds from seeds (built-in): 2 nodes, 9 pods, 3 services, 1 clients (host-gw, kube-proxy iptables)
container default/two/b failed: bind: address already in use (expected: this pod reproduces a port conflict)
lab seeds built in 1.235s.
  see it:      netx datapath status
  use it:      netx datapath exec pod-a -- netx datapath get 10.96.0.10:80
  tear down:   netx datapath down seeds
lab seeds already up; checked in 0s.
  see it:      netx datapath status
  use it:      netx datapath exec pod-a -- netx datapath get 10.96.0.10:80
  tear down:   netx datapath down seeds
lab seeds completed (an earlier up had been interrupted) in 0s.
  see it:      netx datapath status
  use it:      netx datapath exec pod-a -- netx datapath get 10.96.0.10:80
  tear down:   netx datapath down seeds
no lab is up; nothing to remove
lab seeds is not up; nothing to remove
lab seeds removed: 12 processes stopped, 14 namespaces deleted
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
