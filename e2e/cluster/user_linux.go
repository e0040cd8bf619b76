package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// User is a person at a laptop, as the e2e suite plays one: an
// unprivileged uid whose home directory holds a kubeconfig and nothing
// else of the cluster's (it cannot read the cluster's directory), and the
// programs it was given in ~/bin.
type User struct {
	// Name is the certificate's common name, the user RBAC binds.
	Name     string
	UID, GID uint32
	Home     string
}

// NewUser issues a client certificate for name (in no group) from the
// cluster's CA and makes a home directory for uid:gid holding
// ~/.kube/config: the API server's host address, the CA, the certificate
// and its key, all inline. Its contexts are the cluster's (current, no
// namespace) and one per entry of namespaces, named <lab>-<namespace>.
// Remove takes the directory away.
func (s *Spec) NewUser(name string, uid, gid uint32, namespaces ...string) (*User, error) {
	p, err := NewPKI(filepath.Join(s.Dir, "pki"))
	if err != nil {
		return nil, err
	}
	file := "user-" + name
	if err := p.Issue(Identity{File: file, CN: name}); err != nil {
		return nil, err
	}
	data := map[string]string{}
	for key, f := range map[string]string{"ca": "ca.crt", "cert": file + ".crt", "key": file + ".key"} {
		b, err := os.ReadFile(p.Path(f))
		if err != nil {
			return nil, err
		}
		data[key] = base64.StdEncoding.EncodeToString(b)
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster: {server: "https://127.0.0.1:%[2]d", certificate-authority-data: %[3]s}
users:
- name: %[4]s
  user: {client-certificate-data: %[5]s, client-key-data: %[6]s}
contexts:
- name: %[1]s
  context: {cluster: %[1]s, user: %[4]s}
`, s.Lab, s.HostPort, data["ca"], name, data["cert"], data["key"])
	for _, ns := range namespaces {
		cfg += fmt.Sprintf("- name: %[1]s-%[3]s\n  context: {cluster: %[1]s, user: %[2]s, namespace: %[3]s}\n", s.Lab, name, ns)
	}
	cfg += "current-context: " + s.Lab + "\n"

	home, err := os.MkdirTemp("", "netx-e2e-"+name+"-")
	if err != nil {
		return nil, err
	}
	u := &User{Name: name, UID: uid, GID: gid, Home: home}
	if err := u.write(".kube/config", []byte(cfg), 0o600); err != nil {
		u.Remove()
		return nil, err
	}
	return u, nil
}

// write puts a file into the home directory, owned by the user, making
// (and handing over) the directories on the way.
func (u *User) write(rel string, body []byte, mode os.FileMode) error {
	path := filepath.Join(u.Home, rel)
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, int(u.UID), int(u.GID)); err != nil {
			return err
		}
		if d == u.Home {
			break
		}
	}
	if err := os.WriteFile(path, body, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return err
	}
	return os.Chown(path, int(u.UID), int(u.GID))
}

// Install copies a program into ~/bin under name, for the user's PATH.
func (u *User) Install(src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	return u.write(filepath.Join("bin", name), b, 0o755)
}

// Command runs a program of ~/bin (or the system's) as the user: its uid
// and gid with no supplementary groups, HOME its home, PATH ~/bin and the
// system's, no KUBECONFIG; in its home directory.
func (u *User) Command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	if p := filepath.Join(u.Home, "bin", prog); fileExists(p) {
		prog = p
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = u.Home
	cmd.Env = []string{"HOME=" + u.Home, "PATH=" + filepath.Join(u.Home, "bin") + ":/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}}
	return cmd
}

// Remove deletes the home directory.
func (u *User) Remove() error { return os.RemoveAll(u.Home) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
