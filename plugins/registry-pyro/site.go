package registrypyro

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// site is one resolved site register: the daemon that serves it (its own port, as
// gnrdaemon forks a process per site) and the two objects used there.
type site struct {
	pool     *pyro.Pool
	register *pyro.Proxy // SiteRegister
	data     *pyro.Proxy // RemoteData: Bag methods on an item's data store
	uri      pyro.URI
}

// resolveSite finds the site register's URI and opens a pool on its address.
func (r *Registry) resolveSite(ctx context.Context) (*site, error) {
	var uri pyro.URI
	var err error
	if r.cfg.SitedaemonXML != "" {
		uri, err = readSitedaemonXML(r.cfg.SitedaemonXML)
	} else {
		uri, err = r.askDaemon(ctx)
	}
	if err != nil {
		return nil, err
	}
	// The RemoteData object lives beside SiteRegister (Genropy's client derives its URI
	// the same way).
	dataURI := pyro.URI{Object: strings.Replace(uri.Object, "SiteRegister", "RemoteData", 1), Addr: uri.Addr}
	pool := pyro.NewPool(uri.Addr, r.cfg.HMACKey, r.cfg.PoolSize)
	reg, err := pool.Proxy(uri)
	if err != nil {
		pool.Close()
		return nil, err
	}
	data, err := pool.Proxy(dataURI)
	if err != nil {
		pool.Close()
		return nil, err
	}
	r.logger.Info("site register resolved", "site", r.cfg.Site, "register_uri", uri.String())
	return &site{pool: pool, register: reg, data: data, uri: uri}, nil
}

// askDaemon calls GnrDaemon.getSite until the site's register has reported its URI: the
// real daemon forks the site process and answers {} until that child calls back.
func (r *Registry) askDaemon(ctx context.Context) (pyro.URI, error) {
	wait := 50 * time.Millisecond
	for {
		res, err := r.main.Call(ctx, "GnrDaemon", "getSite", []any{r.cfg.Site}, map[string]any{"create": true})
		if err != nil {
			return pyro.URI{}, fmt.Errorf("GnrDaemon.getSite(%q) at %s: %w", r.cfg.Site, r.cfg.Daemon, err)
		}
		info, err := pyro.Dict(res)
		if err != nil {
			return pyro.URI{}, fmt.Errorf("GnrDaemon.getSite(%q): %w", r.cfg.Site, err)
		}
		if s, _ := info["register_uri"].(string); s != "" {
			uri, err := pyro.ParseURI(s)
			if err != nil {
				return pyro.URI{}, fmt.Errorf("GnrDaemon.getSite(%q): register_uri: %w", r.cfg.Site, err)
			}
			return uri, nil
		}
		select {
		case <-ctx.Done():
			return pyro.URI{}, fmt.Errorf("GnrDaemon.getSite(%q): the site register did not start: %w", r.cfg.Site, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// readSitedaemonXML reads the register URI a standalone site daemon wrote: a Bag in XML
// whose `params` node carries the attributes register_uri, main_uri and pid.
func readSitedaemonXML(path string) (pyro.URI, error) {
	f, err := os.Open(path)
	if err != nil {
		return pyro.URI{}, fmt.Errorf("%w: sitedaemon.xml: %w", pyro.ErrUnavailable, err)
	}
	defer f.Close()
	dec := xml.NewDecoder(io.LimitReader(f, 1<<20))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return pyro.URI{}, fmt.Errorf("sitedaemon.xml %s: no params node with a register_uri attribute", path)
		}
		if err != nil {
			return pyro.URI{}, fmt.Errorf("sitedaemon.xml %s: %w", path, err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok || start.Name.Local != "params" {
			continue
		}
		for _, a := range start.Attr {
			if a.Name.Local == "register_uri" {
				uri, err := pyro.ParseURI(a.Value)
				if err != nil {
					return pyro.URI{}, fmt.Errorf("sitedaemon.xml %s: register_uri: %w", path, err)
				}
				return uri, nil
			}
		}
	}
}
