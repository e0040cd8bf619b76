package lab

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// Pause is a pod's infra container: it was started in fresh net, uts and
// ipc namespaces, sets the pod's hostname in its own uts namespace, and
// then only holds the namespaces until ctx ends (SIGTERM/SIGINT), as the
// Kubernetes pause container does.
func Pause(ctx context.Context, hostname string) error {
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			err = fmt.Errorf("set hostname %s: %w", hostname, err)
			Report(err)
			return err
		}
	}
	Report(nil)
	<-ctx.Done()
	return nil
}
