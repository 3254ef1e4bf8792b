package main

import (
	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	legacywsgi "github.com/gnrhost/gnrhost/plugins/legacy-wsgi"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
	registrypyro "github.com/gnrhost/gnrhost/plugins/registry-pyro"
)

// builtinRegistries are the registry plugins compiled into this binary; `gnrhost plugin
// NAME` serves the same ones out-of-process.
func builtinRegistries() map[string]abi.RegistryFactory {
	return map[string]abi.RegistryFactory{
		registrymem.Factory.Name:  registrymem.Factory,
		registrypyro.Factory.Name: registrypyro.Factory,
	}
}

func catalog() host.Catalog {
	return host.Catalog{
		Registries: builtinRegistries(),
		Legacy:     map[string]abi.LegacyFactory{legacywsgi.Factory.Name: legacywsgi.Factory},
	}
}
