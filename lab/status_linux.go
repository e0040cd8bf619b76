package lab

import (
	"errors"
	"os"
	"sort"
)

// GetStatus reads a lab's state and checks its processes.
func GetStatus(name string) (*Status, error) {
	st := StateFor(name)
	sl, err := st.Lab()
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotUpError{Lab: name, Labs: Labs()}
	}
	if err != nil {
		return nil, err
	}
	recs, err := st.Records()
	if err != nil {
		return nil, err
	}
	lab := sl.Lab
	s := &Status{Lab: lab.Name, Source: sl.Source, Overlay: lab.Overlay, Proxy: lab.Proxy}
	pauses := map[string]Record{}
	conts := map[string]Record{}
	for _, r := range recs {
		switch {
		case r.Op == recProc && r.Role == rolePause:
			pauses[r.Pod] = r
		case r.Op == recProc && r.Role == roleContainer:
			k := r.Pod + "\x00" + r.Container
			if old, ok := conts[k]; ok && r.Error != "" && old.PID == r.PID {
				old.Error = r.Error
				r = old
			}
			conts[k] = r
		}
	}
	s.Complete = lastRunComplete(recs)
	nodes := map[string]*LabNode{}
	for _, n := range lab.Nodes {
		nodes[n.Name] = n
		s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, IP: n.IP.String(), PodCIDR: n.PodCIDR.String(), Netns: n.Netns})
	}
	for _, p := range lab.Pods {
		pr, ok := pauses[p.Key()]
		ps := PodStatus{Name: p.Name, Namespace: p.Namespace, Node: p.Node, IP: p.IP.String(), HostNetwork: p.HostNetwork}
		if ok {
			ps.PID = pr.PID
			ps.Running = pr.alive()
		}
		switch {
		case p.HostNetwork:
			ps.Netns = nodes[p.Node].Netns
		case ps.Running:
			// Only a live pause: after PID reuse the path would lead elsewhere.
			ps.Netns = PodNetns(ps.PID)
		}
		for _, c := range p.Containers {
			cs := ContainerStatus{Name: c.Name, State: "not started", Log: st.LogFile(p.Key(), c.Name)}
			if r, ok := conts[p.Key()+"\x00"+c.Name]; ok {
				cs.PID = r.PID
				switch {
				case r.Error != "":
					cs.State, cs.Error = "error", r.Error
				case r.alive():
					cs.State = "running"
				default:
					cs.State = "exited"
					cs.Error = lastLine(cs.Log)
				}
			}
			ps.Containers = append(ps.Containers, cs)
		}
		s.Pods = append(s.Pods, ps)
	}
	for _, svc := range lab.Services {
		ss := ServiceStatus{Name: svc.Name, Namespace: svc.Namespace, Type: svc.Type, ClusterIP: svc.ClusterIP.String()}
		seen := map[string]bool{}
		for _, p := range svc.Ports {
			ss.Ports = append(ss.Ports, PortStatus{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort, NodePort: p.NodePort, Protocol: p.Protocol})
			for _, e := range p.Endpoints {
				if !seen[e.IP.String()] {
					seen[e.IP.String()] = true
					ss.Endpoints = append(ss.Endpoints, e.IP.String())
				}
			}
		}
		sort.Strings(ss.Endpoints)
		s.Services = append(s.Services, ss)
	}
	for _, c := range lab.Clients {
		s.Clients = append(s.Clients, ClientStatus{Name: c.Name, IP: c.IP.String(), Netns: c.Netns})
	}
	return s, nil
}
