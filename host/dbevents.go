package host

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/gnrhost/gnrhost/abi"
)

// checkEventsToken answers the request itself (404 when the endpoint is off, 401 without
// the bearer token of events.token_env) and returns false, or returns true.
func (h *Host) checkEventsToken(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	if h.eventsToken == "" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "the " + endpoint + " endpoint is off; set events.token_env in the plugin set"})
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.eventsToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gnrhost `+endpoint+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
		return false
	}
	return true
}

// maxEventsPerPost bounds one POST /_gnr/dbevents.
const maxEventsPerPost = 1000

type dbeventsRequest struct {
	Events       []abi.DbEvent `json:"events"`
	OriginPageID string        `json:"origin_page_id"`
	Reason       string        `json:"reason"`
}

// postDbEvents lets the legacy app and scripts announce table changes: every page
// subscribed to a table gets them, as if a page handler had published them. It needs
// the bearer token named by events.token_env; without one configured it is off.
func (h *Host) postDbEvents(w http.ResponseWriter, r *http.Request) {
	if !h.checkEventsToken(w, r, "dbevents") {
		return
	}
	var req dbeventsRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "malformed JSON body: " + err.Error()})
		return
	}
	if len(req.Events) == 0 || len(req.Events) > maxEventsPerPost {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "events must hold 1 to 1000 events", "limit": maxEventsPerPost})
		return
	}
	for _, ev := range req.Events {
		if !abi.ValidTableName(ev.Table) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad table name " + ev.Table + `: expected "pkg.table"`})
			return
		}
	}
	reason := req.Reason
	if reason == "" {
		reason = "external"
	}
	notices, err := h.pages.Notify(r.Context(), req.Events, req.OriginPageID, reason)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	type tableResult struct {
		Table string `json:"table"`
		Pages int    `json:"pages"`
	}
	out := make([]tableResult, 0, len(notices))
	for _, n := range notices {
		out = append(out, tableResult{Table: n.Table, Pages: len(n.PageIDs)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"notified": out})
}
