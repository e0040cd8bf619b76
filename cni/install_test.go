package cni

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallAndUninstall: the binary and the conflist land in their
// directories (the conflist one netx-cni plugin, first by name); another
// network's configuration is refused by name unless forced; uninstall
// removes both and the plugin's data, leaves the data directory, and is
// a no-op the second time.
func TestInstallAndUninstall(t *testing.T) {
	dir := t.TempDir()
	bin, conf, data := filepath.Join(dir, "bin"), filepath.Join(dir, "net.d"), filepath.Join(dir, "data")
	src := filepath.Join(dir, "netx-cni.src")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Install(src, bin, conf, Conflist("/var/lib/netx-cni", "10.244.0.0/16", 1450), false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(bin, PluginName)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the installed plugin: %v %v", fi, err)
	}
	b, err := os.ReadFile(filepath.Join(conf, ConfFile))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Name    string
		Plugins []map[string]any
	}
	if err := json.Unmarshal(b, &list); err != nil || list.Name != NetworkName || len(list.Plugins) != 1 || list.Plugins[0]["type"] != PluginName || list.Plugins[0]["dataDir"] != "/var/lib/netx-cni" || list.Plugins[0]["clusterCIDR"] != "10.244.0.0/16" || list.Plugins[0]["mtu"] != 1450.0 {
		t.Errorf("conflist %v:\n%s", err, b)
	}
	if ConfFile >= "10-" {
		t.Errorf("%s does not sort before the usual 10-… files", ConfFile)
	}
	// A second install (setup again) is fine: it is netx's own.
	if err := Install(src, bin, conf, Conflist("/var/lib/netx-cni", "10.244.0.0/16", 1450), false); err != nil {
		t.Errorf("install again: %v", err)
	}

	other := filepath.Join(conf, "10-bridge.conflist")
	os.WriteFile(other, []byte("{}"), 0o644)
	err = Install(src, bin, conf, Conflist("/var/lib/netx-cni", "10.244.0.0/16", 1450), false)
	if err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("install with %s there: %v", other, err)
	}
	if err := Install(src, bin, conf, Conflist("/var/lib/netx-cni", "10.244.0.0/16", 1450), true); err != nil {
		t.Errorf("install --force: %v", err)
	}

	os.MkdirAll(filepath.Join(data, "networks", "netx"), 0o700)
	os.WriteFile(filepath.Join(data, PodCIDRFile), []byte("10.244.1.0/24\n"), 0o644)
	if err := Uninstall(bin, conf, data); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{filepath.Join(bin, PluginName), filepath.Join(conf, ConfFile), filepath.Join(data, PodCIDRFile), filepath.Join(data, "networks")} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there after uninstall", gone)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("uninstall removed the other network's configuration: %v", err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("uninstall removed the data directory itself: %v", err)
	}
	if err := Uninstall(bin, conf, data); err != nil {
		t.Errorf("uninstall again: %v", err)
	}
	if left, _ := os.ReadDir(bin); len(left) != 0 {
		t.Errorf("left in the bin dir: %v", left)
	}
}
