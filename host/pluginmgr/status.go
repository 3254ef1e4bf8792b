package pluginmgr

import (
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// State of a plugin as the manager sees it.
type State string

const (
	StateStarting State = "starting"
	StateUp       State = "up"
	// StateUnhealthy: running, but its last health check failed.
	StateUnhealthy State = "unhealthy"
	// StateDown: crashed or killed; a restart is scheduled.
	StateDown    State = "down"
	StateStopped State = "stopped"
)

// Status is a snapshot of one plugin for /readyz and `gnrhost status`.
type Status struct {
	Slot      string    `json:"slot"`
	Plugin    string    `json:"plugin"`
	Mode      string    `json:"mode"`
	State     State     `json:"state"`
	PID       int       `json:"pid,omitempty"`
	Restarts  int       `json:"restarts"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
}

// DownError is what a call gets while its plugin is not serving. It wraps
// abi.ErrUnavailable, so callers that only know the contract still recognize it.
type DownError struct {
	Slot, Plugin string
	State        State
	Cause        string
}

func (e *DownError) Error() string {
	msg := fmt.Sprintf("plugin %s (%s slot) is %s", e.Plugin, e.Slot, e.State)
	if e.Cause != "" {
		msg += ": " + e.Cause
	}
	return msg
}

func (e *DownError) Unwrap() error { return abi.ErrUnavailable }
