package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"regexp"

	"github.com/go-chi/chi/v5"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// Paths of the page endpoints.
const (
	RPCPath   = "/_gnr/rpc"
	ClosePath = "/_gnr/close"
)

var methodRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,63}$`)

// Mount adds a GET handler for every page route and the RPC and close endpoints.
func (m *Manager) Mount(r chi.Router, wrap func(kind string, h http.HandlerFunc) http.HandlerFunc) {
	for path, rt := range m.routes {
		r.Get(path, wrap("page", m.serveLoad(rt)))
	}
	r.Post(RPCPath, wrap("rpc", m.serveRPC))
	r.Post(ClosePath, wrap("rpc", m.serveClose))
}

func (m *Manager) serveLoad(rt *route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := m.cfg.Identify(ctx, w, r)
		if err != nil {
			m.cfg.WriteError(w, r, err)
			return
		}
		page, body, err := m.createPage(ctx, rt, id, r)
		if err != nil {
			m.writeCallError(w, r, err)
			return
		}
		if page == nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": json.RawMessage(body)})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Gnr-Page-Id", page.ID)
		_, _ = w.Write(injectPageID(body, page.ID))
	}
}

// createPage registers a new page, runs its load entry and keeps it (resident) or saves
// it (ephemeral). A nil page with a body means the handler returned an error.
func (m *Manager) createPage(ctx context.Context, rt *route, id session.Identity, r *http.Request) (*pageRef, []byte, error) {
	ref := pageRef{ID: m.newPageID(), ConnectionID: id.ConnectionID, User: id.User, Route: rt.cfg.Route, Lifecycle: rt.cfg.Lifecycle}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	itemRef := abi.ItemRef{Register: abi.RegisterPage, ID: ref.ID}
	err := m.cfg.Registry.AddItem(ctx, abi.Item{
		Register: abi.RegisterPage, ID: ref.ID, ConnectionID: ref.ConnectionID, User: ref.User,
		PageName: ref.Route, RelativeURL: truncate(r.URL.RequestURI(), 2048), UserIP: ip, UserAgent: truncate(r.UserAgent(), 512),
	})
	if err != nil {
		return nil, nil, err
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			query[k] = v[0]
		}
	}
	input, _ := json.Marshal(map[string]any{"query": query})
	st := newStore(nil)
	res, err := rt.handler.Call(ctx, &wasm.Call{Entry: wasm.EntryLoad, Input: input, Host: newCallHost(m, ref, st)})
	if err == nil && res.Status != wasmabi.StatusOK {
		_ = m.cfg.Registry.DropItem(context.WithoutCancel(ctx), itemRef, false)
		return nil, res.Reply, nil
	}
	if err != nil {
		_ = m.cfg.Registry.DropItem(context.WithoutCancel(ctx), itemRef, false)
		return nil, nil, err
	}
	st.apply(res.Changes)
	if rt.resident {
		p := &residentPage{ref: ref, route: rt, store: st}
		p.touch()
		m.addResident(ctx, p)
	} else if len(st.data) > 0 {
		data := make(map[string]json.RawMessage, len(st.data))
		for k, v := range st.data {
			data[k] = v
		}
		if err := m.cfg.Registry.ReplaceStore(ctx, itemRef, data); err != nil {
			return nil, nil, fmt.Errorf("save new page store: %w", err)
		}
	}
	if _, err := m.finish(ctx, ref, nil, invocation{entry: wasm.EntryLoad}, res); err != nil {
		return nil, nil, err
	}
	if rt.resident {
		if p := m.lookupResident(ref.ID); p != nil {
			m.markDirty(p) // a persist page's first snapshot: it exists from its load on
		}
	}
	return &ref, res.Reply, nil
}

var headRE = regexp.MustCompile(`(?i)<head[^>]*>`)

// injectPageID puts the page id where the client script finds it.
func injectPageID(doc []byte, id string) []byte {
	meta := []byte(`<meta name="gnr-page-id" content="` + html.EscapeString(id) + `">`)
	if loc := headRE.FindIndex(doc); loc != nil {
		out := make([]byte, 0, len(doc)+len(meta))
		out = append(out, doc[:loc[1]]...)
		out = append(out, meta...)
		return append(out, doc[loc[1]:]...)
	}
	return append(meta, doc...)
}

// rpcRequest is the body of POST /_gnr/rpc.
type rpcRequest struct {
	PageID string          `json:"page_id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// RPCResponse is the answer to an RPC: a result or an error, with the page's
// datachanges and the pushes the call made.
type RPCResponse struct {
	Result      json.RawMessage `json:"result,omitempty"`
	Error       json.RawMessage `json:"error,omitempty"`
	Datachanges []Datachange    `json:"datachanges"`
	Pushes      []Push          `json:"pushes,omitempty"`
}

func (m *Manager) serveRPC(w http.ResponseWriter, r *http.Request) {
	var req rpcRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !session.ValidID(req.PageID) {
		badRequest(w, "page_id must be a 22-character page id")
		return
	}
	if !ValidMethod(req.Method) {
		badRequest(w, "method must be 1-64 characters: letters, digits, '_' and '.'")
		return
	}
	params := bytes.TrimSpace(req.Params)
	if len(params) == 0 || string(params) == "null" {
		params = []byte("{}")
	}
	if params[0] != '{' {
		badRequest(w, "params must be a JSON object")
		return
	}
	id, err := m.cfg.ReadIdentity(r)
	if err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "no valid connection cookie; load the page first"})
		return
	}
	out, err := m.RPC(r.Context(), id, req.PageID, req.Method, params)
	if err != nil {
		m.writeCallError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// RPC runs method on a page for caller: the same path HTTP and WebSocket RPCs take.
func (m *Manager) RPC(ctx context.Context, caller session.Identity, pageID, method string, params []byte) (*RPCResponse, error) {
	out, err := m.callPage(ctx, pageID, invocation{entry: wasm.EntryRPC, method: method, input: params, caller: &caller})
	if err != nil {
		return nil, err
	}
	resp := &RPCResponse{Datachanges: out.datachanges, Pushes: out.pushes}
	if resp.Datachanges == nil {
		resp.Datachanges = []Datachange{}
	}
	reply := out.res.Reply
	if out.res.Status != wasmabi.StatusOK {
		resp.Error = reply
		return resp, nil
	}
	if len(bytes.TrimSpace(reply)) == 0 {
		reply = []byte("null")
	}
	if !json.Valid(reply) {
		return nil, &wasm.CallError{Kind: wasm.KindTrap, Module: pageID, Entry: wasm.EntryRPC, Err: errors.New("the handler's RPC reply is not JSON")}
	}
	resp.Result = reply
	return resp, nil
}

func (m *Manager) serveClose(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PageID string `json:"page_id"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if !session.ValidID(req.PageID) {
		badRequest(w, "page_id must be a 22-character page id")
		return
	}
	id, err := m.cfg.ReadIdentity(r)
	if err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "no valid connection cookie"})
		return
	}
	if err := m.ClosePage(r.Context(), id, req.PageID); err != nil {
		m.writeCallError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"closed": true})
}

// ClosePage closes a page at its client's request.
func (m *Manager) ClosePage(ctx context.Context, caller session.Identity, pageID string) error {
	if p := m.lookupResident(pageID); p != nil {
		if p.ref.ConnectionID != caller.ConnectionID {
			return ErrForbidden
		}
		m.closeResident(ctx, p, wasmabi.CloseClient)
		return nil
	}
	if m.cfg.Snapshots != nil {
		// A persist page this process does not know is rebuilt to be closed here, so its
		// close entry runs and its snapshot goes.
		if ok, err := m.cfg.Registry.Exists(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: pageID}); err == nil && !ok {
			p, err := m.restore(ctx, caller, pageID)
			if err != nil {
				return err
			}
			m.closeResident(ctx, p, wasmabi.CloseClient)
			return nil
		}
	}
	input, _ := json.Marshal(map[string]string{"reason": wasmabi.CloseClient})
	_, err := m.callPage(ctx, pageID, invocation{entry: wasm.EntryClose, input: input, caller: &caller})
	if err != nil {
		return err
	}
	m.dropOutbox(pageID)
	err = m.cfg.Registry.DropItem(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: pageID}, false)
	if isNotFound(err) {
		return nil
	}
	return err
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, wasmabi.MaxInputBytes+4096))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "request body too large"})
			return false
		}
		badRequest(w, "cannot read body: "+err.Error())
		return false
	}
	if len(body) > wasmabi.MaxInputBytes+4000 {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "request body too large", "limit_bytes": wasmabi.MaxInputBytes})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		badRequest(w, "malformed JSON body: "+err.Error())
		return false
	}
	if dec.More() {
		badRequest(w, "malformed JSON body: trailing data")
		return false
	}
	return true
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeCallError maps a failed call to its status: 403/404 for the page, 500 for a trap
// or the memory limit, 504 for the deadline, 503 when something is unavailable.
func (m *Manager) writeCallError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *wasm.CallError
	switch {
	case errors.Is(err, ErrForbidden):
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrPageNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "page not found; it may have expired: reload"})
	case errors.As(err, &ce):
		code := http.StatusInternalServerError
		switch ce.Kind {
		case wasm.KindTimeout:
			code = http.StatusGatewayTimeout
		case wasm.KindBusy, wasm.KindClosed, wasm.KindUnavailable:
			code = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "1")
		}
		m.logger.Warn("page call failed", "path", r.URL.Path, "module", ce.Module, "entry", ce.Entry.String(), "kind", ce.Kind.String(), "err", ce.Err)
		writeJSON(w, code, map[string]string{"error": fmt.Sprintf("page handler %s: %s", ce.Entry, ce.Kind)})
	default:
		m.cfg.WriteError(w, r, err)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ValidMethod reports whether name is an acceptable RPC method name.
func ValidMethod(name string) bool { return methodRE.MatchString(name) }

// ErrorCode turns a failed call into the code and message a client sees (WebSocket
// error frames use it; HTTP uses status codes instead).
func ErrorCode(err error) (code, message string) {
	var ce *wasm.CallError
	switch {
	case errors.Is(err, ErrForbidden):
		return "forbidden", err.Error()
	case errors.Is(err, ErrPageNotFound):
		return "page_not_found", "page not found; it may have expired: reload"
	case errors.As(err, &ce):
		switch ce.Kind {
		case wasm.KindTimeout:
			return "timeout", fmt.Sprintf("page handler %s: %s", ce.Entry, ce.Kind)
		case wasm.KindBusy, wasm.KindClosed, wasm.KindUnavailable:
			return "unavailable", fmt.Sprintf("page handler %s: %s", ce.Entry, ce.Kind)
		}
		return "handler_failed", fmt.Sprintf("page handler %s: %s", ce.Entry, ce.Kind)
	case errors.Is(err, abi.ErrUnavailable):
		return "unavailable", "a backend is unavailable; retry shortly"
	}
	return "internal", "internal error"
}
