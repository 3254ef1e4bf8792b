// Package registrypyro is the registry-pyro plugin: the abi.Registry contract served by
// Genropy's existing gnrdaemon over its own wire protocol (Pyro4 4.82, pickle, HMAC), so
// gnrhost and the unchanged legacy WSGI site share one set of registers during the
// migration.
//
// It resolves the site's SiteRegister through GnrDaemon.getSite (or a standalone site
// daemon's sitedaemon.xml), keeps a bounded pool of connections to each daemon, maps every
// Registry method onto SiteRegister, its registers and the RemoteData object (the item
// data Bags), and turns daemon trouble into abi.ErrUnavailable so pages answer 503 while
// the daemon is away and recover by themselves when it returns. Where gnrdaemon's
// semantics differ from the contract, docs/registry-pyro.md says how; the conformance
// suite marks those subtests with the same reasons.
package registrypyro
