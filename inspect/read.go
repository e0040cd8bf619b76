package inspect

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ReadSnapshot decodes a snapshot document, plain or gzip-compressed,
// refusing versions newer than this netx understands and documents that
// are not snapshots.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		defer gz.Close()
		r = gz
	} else {
		r = br
	}
	var s Snapshot
	dec := json.NewDecoder(r)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("snapshot: not a netx snapshot document: %w", err)
	}
	switch {
	case s.Version == 0 || s.Node == nil:
		return nil, fmt.Errorf("snapshot: not a netx snapshot document (no version or node); make one with `netx snapshot -o FILE`")
	case s.Version > SchemaVersion:
		return nil, fmt.Errorf("snapshot: version %d is newer than this netx reads (%d); upgrade netx", s.Version, SchemaVersion)
	}
	return &s, nil
}

// ReadSnapshotFile reads a snapshot from a file (.gz or plain).
func ReadSnapshotFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer f.Close()
	s, err := ReadSnapshot(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
