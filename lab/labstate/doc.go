// Package labstate reads what a netx lab leaves on the machine: its state
// directory under /run/netx (the saved plan, lab.json, and the journal of
// every namespace and process up made) and the processes themselves. It is
// the read-only side of package lab, for the packages that must never
// import a builder: inspect finds lab pods through it and trace loads a
// lab's nodes and services. It changes nothing.
//
// The files are lab's to write; the format is shared through Record and
// the paths here, and lab.json is decoded into a view of only the fields a
// reader needs (lab's tests hold the two to each other).
package labstate
