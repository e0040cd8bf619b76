package printers

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWrite: JSON indented by two spaces with a final newline, YAML with
// the JSON's field names and order, in block style.
func TestWrite(t *testing.T) {
	v := struct {
		Name  string   `json:"name"`
		Addrs []string `json:"addrs"`
		Inner struct {
			B int `json:"b"`
			A int `json:"a"`
		} `json:"inner"`
		Skip string `json:"skip,omitempty"`
	}{Name: "<x>", Addrs: []string{"10.0.0.1/24"}}
	v.Inner.B, v.Inner.A = 2, 1
	var b bytes.Buffer
	if err := Write(&b, "json", v); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"name\": \"\\u003cx\\u003e\",\n  \"addrs\": [\n    \"10.0.0.1/24\"\n  ],\n  \"inner\": {\n    \"b\": 2,\n    \"a\": 1\n  }\n}\n"; b.String() != want {
		t.Errorf("json:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := Write(&b, "yaml", v); err != nil {
		t.Fatal(err)
	}
	if want := "name: <x>\naddrs:\n  - 10.0.0.1/24\ninner:\n  b: 2\n  a: 1\n"; b.String() != want {
		t.Errorf("yaml:\n%s\nwant:\n%s", b.String(), want)
	}
	if err := Write(&b, "xml", v); err == nil {
		t.Error("xml accepted")
	}
}

func TestCheckFormat(t *testing.T) {
	if err := CheckFormat("yaml", "text", "json", "yaml"); err != nil {
		t.Error(err)
	}
	err := CheckFormat("xml", "text", "json", "yaml")
	if err == nil || err.Error() != `unknown output format "xml"; use text, json, yaml` {
		t.Errorf("got %v", err)
	}
}

func TestColorMode(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for _, c := range []struct {
		mode ColorMode
		w    io.Writer
		want bool
	}{
		{ColorAlways, &buf, true},
		{ColorNever, &buf, false},
		{ColorAuto, &buf, false}, // not a file
		{ColorAuto, f, false},    // a file, not a terminal
	} {
		if got := c.mode.Enabled(c.w); got != c.want {
			t.Errorf("%s on %T: %v, want %v", c.mode, c.w, got, c.want)
		}
	}
	for _, m := range []string{"auto", "always", "never"} {
		if !ColorMode(m).Valid() {
			t.Errorf("%s not valid", m)
		}
	}
	if ColorMode("AUTO").Valid() || ColorMode("").Valid() {
		t.Error("invalid modes accepted")
	}
}
