package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegistrySizes reports the number of users, connections and pages in the registry.
type RegistrySizes func(ctx context.Context) (users, connections, pages int, err error)

// registryItems exports the registry's sizes at scrape time: the registry is the source
// of truth (the legacy site registers pages in it too), so no counter kept here could be.
type registryItems struct {
	sizes atomic.Pointer[RegistrySizes]
	desc  *prometheus.Desc
}

// scrapeTimeout bounds the registry call of one scrape; a registry that does not answer
// makes the series disappear from that scrape rather than stall it.
const scrapeTimeout = time.Second

func newRegistryItems() *registryItems {
	return &registryItems{desc: prometheus.NewDesc(
		"gnrhost_registry_items", "Items in the registry by register (user, connection, page), read at scrape time.",
		[]string{"register"}, nil)}
}

// WatchRegistry makes gnrhost_registry_items read sizes; a swapped-in set replaces the
// previous set's function.
func (m *Metrics) WatchRegistry(sizes RegistrySizes) {
	m.registryItems.sizes.Store(&sizes)
}

func (c *registryItems) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *registryItems) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	sizes := c.sizes.Load()
	if sizes == nil {
		return
	}
	users, conns, pages, err := (*sizes)(ctx)
	if err != nil {
		return // the registry's own health shows in gnrhost_plugin_up
	}
	for reg, n := range map[string]int{"user": users, "connection": conns, "page": pages} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), reg)
	}
}
