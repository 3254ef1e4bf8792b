package admin

import "time"

// Status is what `gnrhost status` and the admin page show.
type Status struct {
	Set      SetInfo  `json:"set"`
	Previous *SetInfo `json:"previous,omitempty"`
	// Plugins of the running set, with their state.
	Plugins []PluginStatus `json:"plugins"`
	// Pages in the registry, and how many of them this host keeps resident.
	Pages         int `json:"pages"`
	ResidentPages int `json:"resident_pages"`
	Connections   int `json:"connections"`
	Users         int `json:"users"`
	// WebSockets open now.
	WebSockets int `json:"websockets"`
	// RegistryError is set when the registry could not be counted.
	RegistryError string `json:"registry_error,omitempty"`
	// Swaps, oldest first (bounded).
	Swaps []SwapRecord `json:"swaps"`
	// Processes are the host processes behind a local balancer (phase 7); only the
	// balancer's status has them, and then the counts above are not filled.
	Processes []ProcessStatus `json:"processes,omitempty"`
}

// ProcessStatus is one host process behind a local balancer.
type ProcessStatus struct {
	// Number is the process's NN: its ids end in "|pNN".
	Number int `json:"number"`
	PID    int `json:"pid,omitempty"`
	// Addr is the loopback address the process listens on; it keeps it across restarts.
	Addr string `json:"addr"`
	// State: starting, ready, unready (running, /readyz not 200), down (exited, restart
	// pending), stopping, stopped.
	State string `json:"state"`
	// InRing: the process takes users by the route cookie (a process being added joins
	// once ready; one being removed leaves before it stops).
	InRing    bool   `json:"in_ring"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
}

// ScaleRecord is what `gnrhost scale N` did.
type ScaleRecord struct {
	From   int     `json:"from"`
	To     int     `json:"to"`
	Millis float64 `json:"millis"`
	// Steps records what the scale did, in order.
	Steps []string `json:"steps,omitempty"`
}

// SetInfo names a plugin set and when it started serving.
type SetInfo struct {
	Name  string    `json:"name"`
	File  string    `json:"file"`
	Since time.Time `json:"since"`
	// Lifecycles of its page routes, e.g. {"resident": 5}.
	PageRoutes map[string]int `json:"page_routes,omitempty"`
	Registry   string         `json:"registry"`
	Legacy     string         `json:"legacy,omitempty"`
}

// PluginStatus is one plugin of the running set.
type PluginStatus struct {
	Slot      string `json:"slot"`
	Plugin    string `json:"plugin"`
	Mode      string `json:"mode"`
	State     string `json:"state"`
	PID       int    `json:"pid,omitempty"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
}

// Swap kinds and results.
const (
	KindSwap         = "swap"
	KindRollback     = "rollback"
	KindReload       = "reload"
	KindAutoRollback = "auto-rollback"

	ResultOK         = "ok"
	ResultFailed     = "failed"
	ResultRolledBack = "rolled back"
)

// SwapRecord is one swap attempt.
type SwapRecord struct {
	Kind    string    `json:"kind"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	File    string    `json:"file"`
	Started time.Time `json:"started"`
	// Millis is how long the swap took, from the request to the old set's release.
	Millis float64 `json:"millis"`
	Result string  `json:"result"`
	Error  string  `json:"error,omitempty"`
	// Steps records what the swap did, in order (plugins reused, state moved ...).
	Steps []string `json:"steps,omitempty"`
}
