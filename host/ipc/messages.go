package ipc

import (
	"encoding/json"
	"strings"

	"github.com/gnrhost/gnrhost/abi"
)

// MessageVersion is the version of the JSON messages below; a receiver drops (and counts)
// messages of another version rather than misreading them.
const MessageVersion = 1

// Limits of what one process publishes.
const (
	// MaxMessageBytes bounds one published message (the server's max_payload may lower
	// it). A table's dbevents that do not fit are split over several messages.
	MaxMessageBytes = 1 << 20
	// MaxNotifyPayloadBytes bounds the payload of a user notice or a broadcast.
	MaxNotifyPayloadBytes = 64 << 10
)

// DbEventsMessage is published on Subjects.DbEvents(Table) for one table's events.
type DbEventsMessage struct {
	Version int `json:"v"`
	// Origin names the publishing process (Bus.Origin); a process skips its own.
	Origin       string        `json:"origin"`
	OriginPageID string        `json:"origin_page_id,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Table        string        `json:"table"`
	Events       []abi.DbEvent `json:"events"`
}

// Notice is published on Subjects.UserNotify(User) or, with Broadcast, Subjects.Broadcast.
type Notice struct {
	Version   int             `json:"v"`
	Origin    string          `json:"origin"`
	User      string          `json:"user,omitempty"`
	Broadcast bool            `json:"broadcast,omitempty"`
	Payload   json.RawMessage `json:"payload"`
}

// remoteReasonPrefix starts the reason of dbevents that came from another process, so
// the registry watcher's deliveries can be told apart from local ones, and so nothing
// republishes them.
const remoteReasonPrefix = "ipc:"

// RemoteReason is the reason a remote dbevent is notified with in this process's
// registry: "ipc:<origin>:<reason>".
func RemoteReason(origin, reason string) string {
	return remoteReasonPrefix + origin + ":" + reason
}

// IsRemote reports whether a dbevent reason marks events from another process.
func IsRemote(reason string) bool { return strings.HasPrefix(reason, remoteReasonPrefix) }
