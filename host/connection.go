package host

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/balancer"
	"github.com/gnrhost/gnrhost/host/session"
)

// connection answers GET /_gnr/connection: it makes sure the caller has a connection in
// the registry (a guest one when the cookie is absent, invalid or expired), refreshes it,
// and says who the caller is. Page requests (issue 3) build on the same step.
func (h *Host) connection(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), shortTimeout)
	defer cancel()
	id, err := h.ensureConnection(ctx, w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connection_id": id.ConnectionID, "user": id.User, "guest": id.Guest})
}

// ensureConnection returns the caller's identity, registering a new guest connection and
// setting its cookie when the caller has no live one.
func (h *Host) ensureConnection(ctx context.Context, w http.ResponseWriter, r *http.Request) (session.Identity, error) {
	if id, err := h.signer.Read(r); err == nil {
		ref := abi.ItemRef{Register: abi.RegisterConnection, ID: id.ConnectionID}
		err := h.registry.Touch(ctx, ref, abi.RefreshUser)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, abi.ErrNotFound) {
			return session.Identity{}, err
		}
		if h.process != 0 {
			// Behind a balancer connections live in their owner process; one this process
			// does not know was made by another (before a change of the process count)
			// or by its own previous run. The cookie is signed, so it is taken over.
			if err := h.registerConnection(ctx, r, id); err != nil {
				return session.Identity{}, err
			}
			h.metrics.ConnectionsAdopted.Inc()
			return id, nil
		}
	}
	connID := h.process.NewID()
	if h.process != 0 {
		// Behind the local balancer: a guest whose id hashes back to this process stays
		// here from its first request on, instead of moving once it has a cookie.
		if ring := balancer.ParseRingHeader(r.Header.Get(balancer.RingHeader)); ring != nil {
			connID = ring.OwnedGuestID(int(h.process), h.process.NewID)
		}
	}
	id := session.Identity{ConnectionID: connID, User: "guest_" + connID, Guest: true}
	if err := h.registerConnection(ctx, r, id); err != nil {
		return session.Identity{}, err
	}
	h.signer.Write(w, r, id)
	return id, nil
}

func (h *Host) registerConnection(ctx context.Context, r *http.Request, id session.Identity) error {
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	name := "guest"
	if !id.Guest {
		name = id.User
	}
	return h.registry.AddItem(ctx, abi.Item{
		Register:       abi.RegisterConnection,
		ID:             id.ConnectionID,
		User:           id.User,
		ConnectionName: name,
		UserIP:         ip,
		UserAgent:      truncate(r.UserAgent(), 512),
		Guest:          id.Guest,
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
