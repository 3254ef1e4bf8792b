// Package abi holds gnrhost's contracts: the Go interfaces the host programs against and
// the versions of their wire forms. The Registry contract (registry.go) is modeled on
// gnrdaemon's SiteRegister; its gRPC form lives in abi/registrypb and abi/registryrpc so
// the same contract works in-process and out-of-process (hashicorp/go-plugin).
//
// Nothing here imports the host or a plugin: arrows point into abi, never out of it.
package abi
