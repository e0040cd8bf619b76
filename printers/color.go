package printers

import (
	"fmt"
	"io"
	"os"
)

// ColorMode is the --color setting: colour on a terminal that does not ask
// for NO_COLOR (auto), always, or never.
type ColorMode string

// Colour settings.
const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// Valid says whether m is one of the settings.
func (m ColorMode) Valid() bool {
	return m == ColorAuto || m == ColorAlways || m == ColorNever
}

// Enabled decides for output written to w. Only a terminal gets colour in
// auto mode, so a pipe or a file never holds escape codes.
func (m ColorMode) Enabled(w io.Writer) bool {
	switch m {
	case ColorAlways:
		return true
	case ColorAuto:
		f, ok := w.(*os.File)
		if !ok || os.Getenv("NO_COLOR") != "" {
			return false
		}
		fi, err := f.Stat()
		return err == nil && fi.Mode()&os.ModeCharDevice != 0
	}
	return false
}

// Progress returns a function that prints a progress line ("… msg") to w,
// or nil when w is not a terminal: piped and redirected output stays clean.
func Progress(w io.Writer) func(string) {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return func(msg string) { fmt.Fprintf(w, "… %s\n", msg) }
}
