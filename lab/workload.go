package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
// With udp, every UDP datagram to the same address (and port) gets one
// datagram back carrying the same line. ready is told once every listener
// is up, or why one could not start. It returns when ctx ends or a
// listener fails.
func RunServe(ctx context.Context, addr string, udp bool, id Identity, ready func(error)) error {
	ln, pc, err := listenServe(addr, udp)
	ready(err)
	if err != nil {
		return err
	}
	return serve(ctx, addr, ln, pc, id)
}

// listenServe opens a server's listeners: TCP on addr and, with udp, UDP
// on the same address and port (also when addr asks for any port, 0).
func listenServe(addr string, udp bool) (net.Listener, *net.UDPConn, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || !udp {
		return ln, nil, err
	}
	pc, err := listenUDP(addr, ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return ln, pc, nil
}

// serve answers on ln and pc (when not nil) until ctx ends or one fails.
func serve(ctx context.Context, addr string, ln net.Listener, pc *net.UDPConn, id Identity) error {
	// Either listener failing ends both, and the server with its error.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); ln.Close() }()
	host, _ := os.Hostname()
	udpDone := make(chan error, 1)
	if pc != nil {
		go func() { <-ctx.Done(); pc.Close() }()
		go func() {
			err := serveUDP(pc, host, id)
			if ctx.Err() != nil {
				err = nil // closed on purpose
			}
			udpDone <- err
			cancel()
		}()
	} else {
		udpDone <- nil
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			var tcpErr error
			if ctx.Err() == nil {
				tcpErr = fmt.Errorf("accept on %s: %w", addr, err)
			}
			cancel()
			if uerr := <-udpDone; uerr != nil {
				return uerr
			}
			return tcpErr
		}
		go func() {
			defer c.Close()
			line := identityLine(host, id, c.LocalAddr().String(), c.RemoteAddr().String())
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

// identityLine is what a built-in server answers: who it is, the address
// it was reached at and the address the client came from.
func identityLine(host string, id Identity, server, client string) string {
	return fmt.Sprintf("hostname=%s pod=%s container=%s node=%s server=%s client=%s\n",
		host, id.Pod, id.Container, id.Node, server, client)
}

// listenUDP opens the UDP side of a server on addr's host and port.
func listenUDP(addr string, port int) (*net.UDPConn, error) {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(h, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	if err := recvDst(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("udp %s: %w", addr, err)
	}
	return c, nil
}

// serveUDP answers each datagram on c with one datagram: the identity
// line, naming the address the client sent to (the server) and the one it
// came from. The answer leaves from the address the datagram was sent
// to, as the client's conntrack entry (and a connected client socket)
// expects, also when the socket listens on every address (a node's, say).
// It returns when c fails or is closed.
func serveUDP(c *net.UDPConn, host string, id Identity) error {
	port := c.LocalAddr().(*net.UDPAddr).Port
	buf := make([]byte, 64<<10)
	oob := make([]byte, 512)
	for {
		_, oobn, _, from, err := c.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			// An unconnected socket is told of no ICMP errors: a failed
			// read is the socket's, not one client's.
			return fmt.Errorf("udp on %s: %w", c.LocalAddr(), err)
		}
		server := c.LocalAddr().String()
		dst, ok := datagramDst(oob[:oobn])
		if ok {
			server = netip.AddrPortFrom(dst.Unmap(), uint16(port)).String()
		}
		client := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		line := identityLine(host, id, server, client.String())
		var src []byte
		if ok {
			src = answerFrom(dst)
		}
		// An answer that cannot be sent (the client is gone) is the
		// client's loss; the server goes on.
		c.WriteMsgUDPAddrPort([]byte(line), src, from)
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

// GetUDP sends one datagram to addr (host:port) from a socket of its own,
// connected to addr, and returns the datagram that answers it. A socket
// connected this way is told of an ICMP port unreachable: nothing listens
// there, and the error says "connection refused"; no answer within timeout
// is an error saying it timed out.
func GetUDP(ctx context.Context, addr string, timeout time.Duration) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.Write([]byte("netx datapath get\n")); err != nil {
		return "", udpError(addr, timeout, err)
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", udpError(addr, timeout, err)
	}
	return string(buf[:n]), nil
}

// udpError says what a UDP exchange's failure means for the lab: nothing
// listens (the ICMP port unreachable), or no answer came.
func udpError(addr string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("udp %s: %w (an ICMP port unreachable came back: nothing listens there)", addr, syscall.ECONNREFUSED)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("udp %s: no answer within %s: timed out", addr, timeout)
	}
	return fmt.Errorf("udp %s: %w", addr, err)
}
