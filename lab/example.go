package lab

import "fmt"

// ExamplePod is a pod to show in examples of using the lab: the first one
// with a network namespace of its own, since exec into a hostNetwork pod
// only reaches the node.
func (l *Lab) ExamplePod() string {
	for _, p := range l.Pods {
		if !p.HostNetwork {
			return p.Name
		}
	}
	if len(l.Pods) > 0 {
		return l.Pods[0].Name
	}
	return "POD"
}

// ExampleTarget is an address to GET in examples: the first service's
// ClusterIP and port, or else the last pod's 8080, where the built-in web
// server listens by default.
func (l *Lab) ExampleTarget() string {
	for _, s := range l.Services {
		return fmt.Sprintf("%s:%d", s.ClusterIP, s.Ports[0].Port)
	}
	if len(l.Pods) > 0 {
		return l.Pods[len(l.Pods)-1].IP.String() + ":8080"
	}
	return "IP:PORT"
}
