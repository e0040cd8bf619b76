package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ConfFile is the network configuration setup --cni installs: its name
// sorts before the usual 10-… so that a runtime that loads the first
// file (containerd, CRI-O) loads it.
const ConfFile = "05-netx.conflist"

// NetworkName is the network's name in ConfFile.
const NetworkName = "netx"

// Conflist is ConfFile's content: one plugin, netx-cni, with its data
// directory (the agent writes the node's pod CIDR there) and the
// cluster's pod network, whose leaving traffic it masquerades (none when
// clusterCIDR is ""), and the pods' MTU (0: the kernel's 1500; under a
// vxlan overlay, the underlay's less the encapsulation).
func Conflist(dataDir, clusterCIDR string, mtu int) []byte {
	plugin := map[string]any{"type": PluginName, "bridge": "cni0", "dataDir": dataDir,
		"capabilities": map[string]bool{"portMappings": true}}
	if clusterCIDR != "" {
		plugin["clusterCIDR"] = clusterCIDR
	}
	if mtu != 0 {
		plugin["mtu"] = mtu
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       NetworkName,
		"plugins":    []any{plugin},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return append(b, '\n')
}

// ExistingConfig finds another network configuration in confDir (a
// runtime loads the first by name, so any other would compete with
// netx's): its path, or "".
func ExistingConfig(confDir string) (string, error) {
	ents, err := os.ReadDir(confDir)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || e.Name() == ConfFile || !slices.Contains([]string{".conf", ".conflist", ".json"}, ext) {
			continue
		}
		return filepath.Join(confDir, e.Name()), nil
	}
	return "", nil
}

// ConflictError is another network's configuration where netx's would go.
type ConflictError struct {
	// Dir is the configuration directory (as the agent mounts it; callers
	// may put the node's path in), File the configuration found there.
	Dir, File string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the node already has a CNI network configuration, %s: a second network would compete with it; remove that CNI first, or run kubectl netx setup --cni --force to install netx's before it", filepath.Join(e.Dir, e.File))
}

// Install puts the plugin binary src into binDir as netx-cni and ConfFile
// (with content conflist) into confDir, each written aside and renamed into place, so that a
// runtime never runs half a binary or reads half a file. Another network
// configuration in confDir is refused (naming it) unless force.
func Install(src, binDir, confDir string, conflist []byte, force bool) error {
	if other, err := ExistingConfig(confDir); err != nil {
		return err
	} else if other != "" && !force {
		return &ConflictError{Dir: confDir, File: filepath.Base(other)}
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("install %s: %w", PluginName, err)
	}
	defer in.Close()
	if err := writeAtomic(filepath.Join(binDir, PluginName), 0o755, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	}); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(confDir, ConfFile), 0o644, func(w io.Writer) error {
		_, err := w.Write(conflist)
		return err
	}); err != nil {
		// Nothing half-installed: the binary alone goes again.
		os.Remove(filepath.Join(binDir, PluginName))
		return err
	}
	return nil
}

// writeAtomic writes path through a temporary file in its directory.
func writeAtomic(path string, mode os.FileMode, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("install %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("install %s: %w", path, err)
	}
	return nil
}

// Uninstall removes what Install put on the node and the plugin's data
// (the addresses handed out, the pod CIDR); what is already gone is no
// error.
func Uninstall(binDir, confDir, dataDir string) error {
	var errs []error
	for _, p := range []string{filepath.Join(confDir, ConfFile), filepath.Join(binDir, PluginName)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if dataDir != "" && strings.HasPrefix(filepath.Clean(dataDir), "/") && filepath.Clean(dataDir) != "/" {
		// Only what the plugin writes there: the mount point itself (a
		// hostPath) stays.
		ents, _ := os.ReadDir(dataDir)
		for _, e := range ents {
			if e.Name() == PodCIDRFile || e.Name() == "networks" {
				if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}
