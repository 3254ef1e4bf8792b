// Command gnrhost is the CLI of the gnrhost web host: serve a plugin set, validate one,
// and (for the host's own use) run a built-in plugin out-of-process. It stays thin: it
// parses flags, fills the host's plugin catalog with the built-in factories, and calls
// package host.
package main
