package procfs

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// ReadFile reads a /proc file whole; its errors are os.ReadFile's
// (*fs.PathError, errors.Is(err, fs.ErrNotExist) for a process gone). A read that returns less than asked
// is the end: procfs files (seq_file ones, cmdline, environ) fill a read
// until they run out.
func ReadFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 512)
	n := 0
	for {
		m, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		n += m
		if n < len(buf) {
			return buf[:n], nil
		}
		buf = append(buf, make([]byte, len(buf))...)
	}
}
