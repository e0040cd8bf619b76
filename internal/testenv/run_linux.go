package testenv

import (
	"bytes"
	"os/exec"

	"github.com/netx-project/netx/internal/nsenter"
)

// OutputIn runs a program inside the network namespace at netns and
// returns its combined output.
func OutputIn(netns, prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := nsenter.Start(nsenter.Net(netns), cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}
