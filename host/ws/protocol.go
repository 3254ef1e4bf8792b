package ws

import "encoding/json"

// Close codes the server uses. 1000-1011 are RFC 6455's; 4000-4999 are for applications.
const (
	CloseNormal      = 1000
	CloseGoingAway   = 1001 // the host is shutting down or swapping: reconnect
	CloseProtocol    = 1002 // a frame broke RFC 6455
	CloseUnsupported = 1003 // a binary message: the protocol is JSON text
	CloseInvalidData = 1007 // a text message that is not UTF-8, or not a valid JSON frame
	CloseTooBig      = 1009 // a message over websocket.max_message_bytes
	CloseInternal    = 1011
	// CloseReload: the page is gone or its missed pushes are no longer kept; the client
	// must reload the page (never a silent gap).
	CloseReload = 4000
	// CloseIdle: nothing received for websocket.idle_timeout (pongs count).
	CloseIdle = 4001
	// CloseSlowConsumer: the client fell further behind than its queue allows.
	CloseSlowConsumer = 4008
)

// inbound is a frame from the client.
type inbound struct {
	Type   string          `json:"type"`
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Outbound frames (pushes are encoded by hand, see pushJSON).
type helloFrame struct {
	Type    string `json:"type"` // "hello"
	PageID  string `json:"page_id"`
	Epoch   string `json:"epoch"`
	LastSeq uint64 `json:"last_seq"`
	Resumed bool   `json:"resumed"`
}

type resultFrame struct {
	Type        string          `json:"type"` // "result" or "error"
	ID          json.RawMessage `json:"id,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	Error       any             `json:"error,omitempty"`
	Datachanges any             `json:"datachanges,omitempty"`
}

type reloadFrame struct {
	Type   string `json:"type"` // "reload"
	Reason string `json:"reason"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
