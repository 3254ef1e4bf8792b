// Package dbwatch is the watcher fan-out a registry needs for WatchDbEvents: each
// watcher gets a bounded channel, a broadcast never waits for a slow watcher (it loses
// the notice, counted), and a watcher goes when its context ends or the registry
// closes. Registry plugins share it so the contract's delivery rules live in one place.
package dbwatch
