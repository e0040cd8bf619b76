package printers

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netx-project/netx/lab/labstate"
)

// LabStatus prints a lab as `datapath status` shows it: a line on the lab,
// then tables of its nodes, pods (with the containers that failed),
// services and clients.
func LabStatus(w io.Writer, s *labstate.Status) {
	state := "up"
	if !s.Complete {
		state = "INCOMPLETE (up was interrupted; run up again or down)"
	}
	fmt.Fprintf(w, "lab %s (%s, kube-proxy %s) from %s: %s\n\n", s.Lab, s.Overlay, s.Proxy, s.Source, state)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tIP\tPOD CIDR\tNETNS")
	for _, n := range s.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, n.IP, n.PodCIDR, n.Netns)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "POD\tREADY\tSTATUS\tIP\tNODE\tPID\tNETNS")
	for _, p := range s.Pods {
		r, t := p.Ready()
		ip := p.IP
		if p.HostNetwork {
			ip += " (hostNetwork)"
		}
		fmt.Fprintf(tw, "%s/%s\t%d/%d\t%s\t%s\t%s\t%d\t%s\n", p.Namespace, p.Name, r, t, p.Phase(), ip, p.Node, p.PID, p.Netns)
	}
	tw.Flush()
	for _, p := range s.Pods {
		for _, c := range p.Containers {
			if c.Error != "" {
				fmt.Fprintf(w, "  %s/%s container %s: %s\n", p.Namespace, p.Name, c.Name, c.Error)
			}
		}
	}
	if len(s.Services) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "SERVICE\tTYPE\tCLUSTER-IP\tPORTS\tENDPOINTS")
		for _, svc := range s.Services {
			var ports []string
			for _, p := range svc.Ports {
				ps := fmt.Sprintf("%d", p.Port)
				if p.NodePort != 0 {
					ps += fmt.Sprintf(":%d", p.NodePort)
				}
				ports = append(ports, ps+"/"+p.Protocol)
			}
			fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\n", svc.Namespace, svc.Name, svc.Type, svc.ClusterIP, strings.Join(ports, ","), strings.Join(svc.Endpoints, ","))
		}
		tw.Flush()
	}
	if len(s.Clients) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "CLIENT\tIP\tNETNS")
		for _, c := range s.Clients {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.IP, c.Netns)
		}
		tw.Flush()
	}
}

// LabPlan is what `datapath up` announces before building: the plan's
// name, source and size, copied out of the builder's plan (lab.Lab), which
// printers does not import.
type LabPlan struct {
	Lab, Source, Overlay, Proxy    string
	Nodes, Pods, Services, Clients int
}

// LabBuilding announces a build.
func LabBuilding(w io.Writer, p LabPlan) {
	fmt.Fprintf(w, "building lab %s from %s: %d nodes, %d pods, %d services, %d clients (%s, kube-proxy %s)\n",
		p.Lab, p.Source, p.Nodes, p.Pods, p.Services, p.Clients, p.Overlay, p.Proxy)
}

// LabUp is what `datapath up` did, copied out of the builder's report.
type LabUp struct {
	Lab string
	// Reused: the lab was already up; Resumed: an interrupted up was
	// completed.
	Reused, Resumed bool
	Elapsed         time.Duration
	Containers      []ContainerStart
	// ExamplePod and ExampleTarget fill the hint on how to use the lab.
	ExamplePod, ExampleTarget string
}

// ContainerStart is how one container started; Expected marks a failure
// the topology asked for (a port conflict to reproduce).
type ContainerStart struct {
	Pod, Container, Error string
	Expected              bool
}

// LabBuilt reports a finished up: the containers that failed, how long it
// took, and what to run next.
func LabBuilt(w io.Writer, u LabUp) {
	for _, c := range u.Containers {
		if c.Error == "" {
			continue
		}
		note := ""
		if c.Expected {
			note = " (expected: this pod reproduces a port conflict)"
		}
		fmt.Fprintf(w, "container %s/%s failed: %s%s\n", c.Pod, c.Container, c.Error, note)
	}
	verb := "built"
	switch {
	case u.Resumed:
		verb = "completed (an earlier up had been interrupted)"
	case u.Reused:
		verb = "already up; checked"
	}
	fmt.Fprintf(w, "lab %s %s in %s.\n", u.Lab, verb, u.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  see it:      netx datapath status\n  use it:      netx datapath exec %s -- netx datapath get %s\n  tear down:   netx datapath down %s\n",
		u.ExamplePod, u.ExampleTarget, u.Lab)
}

// LabDown is what `datapath down` did to one lab. An empty Lab means no
// lab was up to choose.
type LabDown struct {
	Lab                   string
	Found                 bool
	Processes, Namespaces int
}

// LabRemoved reports a down.
func LabRemoved(w io.Writer, d LabDown) {
	switch {
	case d.Lab == "":
		fmt.Fprintln(w, "no lab is up; nothing to remove")
	case !d.Found:
		fmt.Fprintf(w, "lab %s is not up; nothing to remove\n", d.Lab)
	default:
		fmt.Fprintf(w, "lab %s removed: %d processes stopped, %d namespaces deleted\n", d.Lab, d.Processes, d.Namespaces)
	}
}
