//go:build !linux

package procfs

import "os"

// ReadFile reads a file whole (there is no /proc to read here).
func ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }
