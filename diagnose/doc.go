// Package diagnose derives findings from a node's snapshot: the settings
// that break pod networking, the CNI portmap plugin's host ports with the
// pod behind each, and the routes that leave through another host,
// followed through an overlay to the remote VTEP, with what is missing on
// the way. It is pure: it reads an inspect.Snapshot, never the kernel, and
// returns typed findings that printers renders and tests compare.
package diagnose
