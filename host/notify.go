package host

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gnrhost/gnrhost/host/ipc"
)

type notifyRequest struct {
	User      string          `json:"user"`
	Broadcast bool            `json:"broadcast"`
	Payload   json.RawMessage `json:"payload"`
}

// postNotify sends a notice to every open page of a user, or of everyone with broadcast:
// a WebSocket frame {"type":"notify", ...} (docs/websocket.md). This process's sockets get
// it at once; under the nats backend it is also published for the other processes. It
// needs the bearer token of events.token_env, like POST /_gnr/dbevents.
func (h *Host) postNotify(w http.ResponseWriter, r *http.Request) {
	if !h.checkEventsToken(w, r, "notify") {
		return
	}
	// The body limit is the payload's plus room for the user and the field names.
	const maxBody = ipc.MaxNotifyPayloadBytes + 4096
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading the body: " + err.Error()})
		return
	}
	if len(body) > maxBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "body too large; the payload may hold 64 KiB", "limit_bytes": ipc.MaxNotifyPayloadBytes})
		return
	}
	var req notifyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed JSON body: " + err.Error()})
		return
	}
	payload := bytes.TrimSpace(req.Payload)
	switch {
	case len(payload) == 0 || bytes.Equal(payload, []byte("null")):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "payload is required"})
		return
	case len(payload) > ipc.MaxNotifyPayloadBytes:
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "payload too large", "limit_bytes": ipc.MaxNotifyPayloadBytes})
		return
	case req.Broadcast == (req.User != ""):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `give either "user" or "broadcast": true`})
		return
	}
	sockets := h.ws.Notify(req.User, req.Broadcast, payload)
	out := map[string]any{"local_sockets": sockets, "published": false}
	if h.ipc != nil {
		if err := h.ipc.bus.PublishNotice(ipc.Notice{User: req.User, Broadcast: req.Broadcast, Payload: payload}); err != nil {
			h.logger.Warn("notice not sent to other processes", "user", req.User, "broadcast", req.Broadcast, "err", err)
			out["error"] = "not sent to the other processes: " + err.Error()
		} else {
			out["published"] = true
		}
	}
	writeJSON(w, http.StatusOK, out)
}
