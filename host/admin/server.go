package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Controller is what the admin channel drives: the host's runtime. A refused swap
// returns its record (Result "failed", with the reason) and an error.
type Controller interface {
	Status(ctx context.Context) Status
	// Swap replaces the running plugin set with the one in file.
	Swap(ctx context.Context, file string) (SwapRecord, error)
	// Rollback swaps back to the previous set.
	Rollback(ctx context.Context) (SwapRecord, error)
	// Reload swaps to the current set's file, read again.
	Reload(ctx context.Context) (SwapRecord, error)
}

// maxRequestBytes bounds an admin request body (a file name, a token).
const maxRequestBytes = 64 << 10

// Handler serves the admin API and page. token, when not empty, is required as
// "Authorization: Bearer TOKEN" (or the admin page's cookie) on every request.
func Handler(c Controller, token string, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Status(r.Context()))
	})
	mux.HandleFunc("POST /swap", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			File string `json:"file"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequestBytes)).Decode(&req); err != nil || req.File == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want a JSON body {"file": "/path/to/set.yaml"}`})
			return
		}
		answer(w, logger, "swap", func() (SwapRecord, error) { return c.Swap(r.Context(), req.File) })
	})
	mux.HandleFunc("POST /rollback", func(w http.ResponseWriter, r *http.Request) {
		answer(w, logger, "rollback", func() (SwapRecord, error) { return c.Rollback(r.Context()) })
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		answer(w, logger, "reload", func() (SwapRecord, error) { return c.Reload(r.Context()) })
	})
	mux.HandleFunc("GET /memory", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ReadMemory(r.URL.Query().Get("gc") == "1"))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, PagePath, http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+PagePath, func(w http.ResponseWriter, r *http.Request) { renderPage(w, c.Status(r.Context()), "") })
	mux.HandleFunc("POST "+PagePath+"/rollback", func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin form post refused"})
			return
		}
		rec, err := c.Rollback(r.Context())
		msg := "Rolled back to " + rec.To + "."
		if err != nil {
			msg = "Rollback refused: " + err.Error()
		}
		w.WriteHeader(http.StatusOK)
		renderPage(w, c.Status(r.Context()), msg)
	})
	if token == "" {
		return mux
	}
	return requireToken(token, mux)
}

// PagePath is where the admin page lives, on the admin listener and (with a token) on
// the public port.
const PagePath = "/_gnr/admin"

// Response wraps a refused operation: its record and the reason.
type Response struct {
	Error  string     `json:"error"`
	Result SwapRecord `json:"result"`
}

func answer(w http.ResponseWriter, logger *slog.Logger, op string, fn func() (SwapRecord, error)) {
	res, err := fn()
	if err != nil {
		logger.Warn("admin "+op+" refused", "err", err)
		writeJSON(w, http.StatusConflict, Response{Error: err.Error(), Result: res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// sameOrigin refuses a form posted from another site (the admin cookie is SameSite=Strict
// too; this covers browsers that send it anyway).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return strings.TrimPrefix(strings.TrimPrefix(origin, "http://"), "https://") == r.Host
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// cookieName carries the token for the admin page in a browser (set by its login form).
const cookieName = "gnrhost_admin"

// requireToken lets through requests carrying the token (header or the page's cookie).
// A browser without it gets the login form on the page's paths; its POST sets the cookie.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case authorized(r, want):
			next.ServeHTTP(w, r)
		case r.URL.Path == PagePath+"/login" && r.Method == http.MethodPost:
			login(w, r, want)
		case r.URL.Path == PagePath || r.URL.Path == "/":
			renderLogin(w, http.StatusUnauthorized, "")
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="gnrhost admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin token required (Authorization: Bearer ...)"})
		}
	})
}

func login(w http.ResponseWriter, r *http.Request, want []byte) {
	if err := r.ParseForm(); err != nil || !sameOrigin(r) {
		renderLogin(w, http.StatusBadRequest, "Bad form.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), want) != 1 {
		renderLogin(w, http.StatusUnauthorized, "Wrong token.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: string(want), Path: PagePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, PagePath, http.StatusSeeOther)
}

func authorized(r *http.Request, want []byte) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		if c, err := r.Cookie(cookieName); err == nil {
			got, ok = c.Value, true
		}
	}
	return ok && subtle.ConstantTimeCompare([]byte(got), want) == 1
}

// DefaultSocket is the admin socket of a host listening on listen, when the set names
// none: one per port, in a per-user directory.
func DefaultSocket(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		port = "8080"
	}
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, fmt.Sprintf("gnrhost-%d", os.Getuid()), "admin-"+port+".sock")
}

// ListenSocket opens the unix socket at path, private to this user: its directory is
// created 0700 (an existing one must belong to us and not be open to others) and the
// socket is 0600. A stale socket left by a dead host is replaced; a live one is an error.
func ListenSocket(path string) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("admin socket directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("admin socket directory %s: %w", dir, err)
	} else if fi.Mode().Perm()&0o077 != 0 && filepath.Base(dir) == fmt.Sprintf("gnrhost-%d", os.Getuid()) {
		return nil, fmt.Errorf("admin socket directory %s is open to other users (mode %v); make it 0700", dir, fi.Mode().Perm())
	}
	if _, err := os.Stat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s is in use by another running host", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale admin socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// Serve answers admin requests on ln until ctx ends. Swaps can take a while (plugins
// start, requests drain), hence the generous write timeout.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      10 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if ln.Addr().Network() == "unix" {
		_ = os.Remove(ln.Addr().String())
	}
	return nil
}
