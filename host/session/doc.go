// Package session makes the ids of pages and connections and the signed connection cookie
// that ties a browser to its connection (and user) in the registry, as the Genropy site
// does with its HMAC-signed cookie named after the site.
package session
