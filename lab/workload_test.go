package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe runs the built-in server on loopback (TCP, and UDP on the
// same port with udp) and returns its address.
func startServe(t *testing.T, udp bool) string {
	t.Helper()
	ln, pc, err := listenServe("127.0.0.1:0", udp)
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if udp && pc.LocalAddr().String() != addr {
		t.Fatalf("udp listens on %s, tcp on %s: want the same address", pc.LocalAddr(), addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, addr, ln, pc, Identity{Pod: "default/b-1", Container: "web", Node: "node1"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve on %s ended with %v, want nil once cancelled", addr, err)
		}
	})
	return addr
}

// TestServeUDP: with udp the server answers a datagram with the line the
// TCP server writes, naming the address it was sent to and the client's.
func TestServeUDP(t *testing.T) {
	addr := startServe(t, true)
	want := fmt.Sprintf("pod=default/b-1 container=web node=node1 server=%s client=127.0.0.1:", addr)
	for _, get := range []struct {
		name string
		f    func(context.Context, string, time.Duration) (string, error)
	}{{"tcp", Get}, {"udp", GetUDP}} {
		line, err := get.f(context.Background(), addr, 3*time.Second)
		if err != nil {
			t.Fatalf("%s get %s: %v", get.name, addr, err)
		}
		if !strings.HasPrefix(line, "hostname=") || !strings.Contains(line, want) || !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Errorf("%s get %s: %q, want one line with %q", get.name, addr, line, want)
		}
	}
}

// TestServeWithoutUDP: without udp nothing listens on UDP, so the
// datagram is refused (ICMP port unreachable) and GetUDP says so.
func TestServeWithoutUDP(t *testing.T) {
	addr := startServe(t, false)
	_, err := GetUDP(context.Background(), addr, 3*time.Second)
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("udp get %s with no UDP server: %v, want connection refused", addr, err)
	}
}

// TestGetUDPTimeout: a UDP socket that never answers leaves GetUDP
// waiting until its timeout, and the error says it timed out.
func TestGetUDPTimeout(t *testing.T) {
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	_, err = GetUDP(context.Background(), mute.LocalAddr().String(), 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "timed out") || errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("udp get of a silent socket: %v, want a timeout", err)
	}
	buf := make([]byte, 100)
	mute.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, _, err := mute.ReadFrom(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "netx") {
		t.Errorf("the silent socket got %q, %v: want the datagram GetUDP sent", buf[:n], err)
	}
}

// TestServeUDPPortTaken: a UDP port already taken fails the start (ready
// is told), and the TCP listener opened first is closed again.
func TestServeUDPPortTaken(t *testing.T) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.LocalAddr().String()
	var told error
	err = RunServe(context.Background(), addr, true, Identity{}, func(err error) { told = err })
	if err == nil || told == nil || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("serve --udp on a taken UDP port %s: %v (ready told %v), want address in use naming it", addr, err, told)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the TCP listener of the failed start is left open: %v", err)
	}
	ln.Close()
}
