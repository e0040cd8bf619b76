// Package printers renders netx's data for people and programs: the text
// views (a node, a namespace, a lab, a trace), the trace diagrams (Mermaid,
// Graphviz dot), and one JSON/YAML writer that every command shares. The
// small pieces (a route, a link, a rule, a hop's notes) are exported so the
// TUI draws them the way the commands print them.
//
// It imports the read-only packages for their types (inspect, trace,
// diagnose, lab/labstate), never a builder (lab, datapath): what a command
// learns from a builder reaches it as the plain structs defined here.
// Colour is decided here too (ColorMode), not by the commands.
package printers
