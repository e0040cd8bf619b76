package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The lab's "images" are built into netx, so a fresh machine needs nothing
// else: a pause that holds namespaces, a server that says who answered,
// a forwarder (the seeds' nginx in front of a webapp), and a client.

// ReadyEnv names the environment variable that tells a built-in process
// which file descriptor to report readiness on ("ok") or its start error.
const ReadyEnv = "NETX_READY_FD"

// readyFile returns the readiness pipe passed by up, if any.
func readyFile() *os.File {
	n, err := strconv.Atoi(os.Getenv(ReadyEnv))
	if err != nil || n < 3 {
		return nil
	}
	return os.NewFile(uintptr(n), "ready")
}

// Report tells the parent we are ready (err == nil) or why we failed.
func Report(err error) {
	f := readyFile()
	if f == nil {
		return
	}
	defer f.Close()
	if err != nil {
		fmt.Fprint(f, err.Error())
		return
	}
	fmt.Fprint(f, "ok")
}

// Identity is what a built-in server says about itself.
type Identity struct {
	Lab, Pod, Container, Node string
}

// IdentityFromEnv reads the identity up puts in a container's environment.
func IdentityFromEnv() Identity {
	return Identity{Lab: os.Getenv("NETX_LAB"), Pod: os.Getenv("NETX_POD"), Container: os.Getenv("NETX_CONTAINER"), Node: os.Getenv("NETX_NODE")}
}

// RunServe answers every TCP connection on addr with one line saying which
// pod, container and node answered and from which address the client came
// (so NAT is visible). An HTTP request gets the line as an HTTP response.
// It returns when ctx ends or the listener fails.
func RunServe(ctx context.Context, addr string, id Identity, ready func(error)) error {
	ln, err := net.Listen("tcp", addr)
	ready(err)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	host, _ := os.Hostname()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", addr, err)
		}
		go func() {
			defer c.Close()
			line := fmt.Sprintf("hostname=%s pod=%s container=%s node=%s server=%s client=%s\n",
				host, id.Pod, id.Container, id.Node, c.LocalAddr(), c.RemoteAddr())
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			br := bufio.NewReader(c)
			first, _ := br.ReadString('\n')
			if strings.HasPrefix(first, "GET ") || strings.HasPrefix(first, "HEAD ") {
				for { // drain the request headers
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" || l == "\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(line), line)
				return
			}
			io.WriteString(c, line)
		}()
	}
}

// Dialer opens the upstream connection of a forward.
type Dialer func(address string) (net.Conn, error)

// RunForward relays every TCP connection on listen to the address to, like
// the seeds' nginx proxying :80 to the webapp on 127.0.0.1:5000. dial opens
// the upstream side (nil: a plain dial from here). A relay that cannot
// reach its upstream is reported to logf and dropped.
func RunForward(ctx context.Context, listen, to string, dial Dialer, ready func(error), logf func(format string, args ...any)) error {
	if dial == nil {
		dial = func(a string) (net.Conn, error) { return net.DialTimeout("tcp", a, 5*time.Second) }
	}
	ln, err := net.Listen("tcp", listen)
	ready(err)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept on %s: %w", listen, err)
		}
		go func() {
			defer c.Close()
			up, err := dial(to)
			if err != nil {
				logf("forward %s -> %s: %v", c.RemoteAddr(), to, err)
				return
			}
			defer up.Close()
			// Each direction half-closes the other side when its source
			// ends, so a client reading to EOF is not left waiting.
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(up, c)
				up.(*net.TCPConn).CloseWrite()
			}()
			io.Copy(c, up)
			c.(*net.TCPConn).CloseWrite()
			wg.Wait()
		}()
	}
}

// Get connects to addr (host:port), sends an HTTP GET and returns the body
// (or the raw reply of a non-HTTP server).
func Get(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: netx\r\n\r\n", addr)
	b, err := io.ReadAll(c)
	if err != nil && len(b) == 0 {
		return "", fmt.Errorf("read from %s: %w", addr, err)
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); bytes.HasPrefix(b, []byte("HTTP/")) && i >= 0 {
		b = b[i+4:]
	}
	if len(b) == 0 {
		return "", errors.New("connection closed without a reply")
	}
	return string(b), nil
}
