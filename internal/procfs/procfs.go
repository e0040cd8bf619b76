// Package procfs reads the small files of /proc that a node's inventory
// reads thousands of (each process's comm, cmdline, stat, cgroup,
// environ): one open, reads until a short one, one close. os.ReadFile
// costs about twice that on such a file (a stat for the size, the
// poller's bookkeeping, one more read to see the end): 8–14 µs against
// 5 µs for a comm on the machine docs/benchmarks.md was measured on.
package procfs
