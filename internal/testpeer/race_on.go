//go:build race

package testpeer

const raceEnabled = true
