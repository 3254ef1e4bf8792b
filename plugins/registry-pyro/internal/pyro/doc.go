// Package pyro is a small client for the Pyro4 (4.82) wire protocol, enough to call
// gnrdaemon's objects from Go: the PYRO message format with HMAC-SHA1 annotations, the
// CONNECT handshake, INVOKE/RESULT with the pickle serializer, remote exceptions, and a
// bounded connection pool that drops dead connections.
//
// Pickle: arguments are encoded with github.com/kisielk/og-rek; results are decoded by
// this package's own unpickler because og-rek v1.3.0 cannot decode the NEWOBJ and BUILD
// opcodes that every pickled Python object (ClientDataChange, exceptions with a
// _pyroTraceback) uses. Decoded values reuse og-rek's types (Tuple, Bytes, Class).
//
// The behaviour was checked against the real Pyro4 4.82 library (Debian python3-pyro4)
// through testdata/gnrdaemon/gnrdaemon.py; see plugins/registry-pyro/README.md.
package pyro
