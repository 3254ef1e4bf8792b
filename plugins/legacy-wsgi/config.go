package legacywsgi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Duration is a Go duration string in JSON ("30s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalJSON accepts only duration strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"30s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a non-negative duration such as \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// Config is the plugin's `config` in a plugin set.
type Config struct {
	// App is the WSGI callable, "module:callable". Required unless Upstream is set.
	App string `json:"app"`
	// Workers is gunicorn's worker count (default 2).
	Workers int `json:"workers"`
	// WorkerClass is gunicorn's worker class (default "sync"); "gthread" keeps
	// connections from the host alive between requests.
	WorkerClass string `json:"worker_class"`
	// Threads per worker, for worker_class gthread (default 1).
	Threads int `json:"threads"`
	// Chdir is the directory gunicorn runs in (relative to the set file's directory,
	// which is also the default).
	Chdir string `json:"chdir"`
	// PythonPath entries are added to sys.path.
	PythonPath []string `json:"pythonpath"`
	// Env is added to gunicorn's environment.
	Env map[string]string `json:"env"`
	// Python runs gunicorn (default /usr/bin/python3, which sees Debian's packages).
	Python string `json:"python"`
	// Socket is the unix socket gunicorn binds (default: a fresh one in a private temp dir).
	Socket string `json:"socket"`
	// Upstream attaches to a site that already runs instead of starting gunicorn:
	// "unix:/path" or "http://host:port".
	Upstream string `json:"upstream"`
	// Timeout is gunicorn's worker timeout (default 30s).
	Timeout Duration `json:"timeout"`
	// GracefulTimeout bounds a graceful stop or reload (default 10s).
	GracefulTimeout Duration `json:"graceful_timeout"`
	// StartTimeout bounds the first start (default 30s).
	StartTimeout Duration `json:"start_timeout"`
	// HealthPath is requested to tell that the site serves (default "/"; any status counts).
	HealthPath string `json:"health_path"`
	// RestartInitial and RestartMax bound the backoff between restarts (100ms, 10s).
	RestartInitial Duration `json:"restart_initial"`
	RestartMax     Duration `json:"restart_max"`
}

var appRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.()]*$`)

// ParseConfig decodes and checks a config strictly, with defaults filled in.
func ParseConfig(raw json.RawMessage) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("legacy-wsgi config: %w", err)
		}
	}
	var errs []string
	switch {
	case c.Upstream != "" && c.App != "":
		errs = append(errs, "set either app (run gunicorn) or upstream (attach), not both")
	case c.Upstream == "" && c.App == "":
		errs = append(errs, `app is required: the WSGI callable as "module:callable"`)
	case c.App != "" && !appRE.MatchString(c.App):
		errs = append(errs, fmt.Sprintf(`app %q: expected "module:callable"`, c.App))
	}
	if c.Upstream != "" {
		if err := checkUpstream(c.Upstream); err != nil {
			errs = append(errs, err.Error())
		}
	}
	switch c.WorkerClass {
	case "", "sync", "gthread":
	default:
		errs = append(errs, fmt.Sprintf("worker_class %q: expected sync or gthread", c.WorkerClass))
	}
	if c.Threads < 0 || c.Threads > 1024 {
		errs = append(errs, fmt.Sprintf("threads: expected 1 to 1024, found %d", c.Threads))
	}
	if c.Workers < 0 || c.Workers > 256 {
		errs = append(errs, fmt.Sprintf("workers: expected 1 to 256, found %d", c.Workers))
	}
	for k := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			errs = append(errs, fmt.Sprintf("env: bad variable name %q", k))
		}
	}
	if len(errs) > 0 {
		return c, errors.New("legacy-wsgi config: " + strings.Join(errs, "; "))
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.WorkerClass == "" {
		c.WorkerClass = "sync"
	}
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.HealthPath == "" {
		c.HealthPath = "/"
	}
	if !strings.HasPrefix(c.HealthPath, "/") {
		return c, fmt.Errorf("legacy-wsgi config: health_path %q must start with /", c.HealthPath)
	}
	if c.Python == "" {
		c.Python = "/usr/bin/python3"
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&c.Timeout, 30*time.Second)
	def(&c.GracefulTimeout, 10*time.Second)
	def(&c.StartTimeout, 30*time.Second)
	def(&c.RestartInitial, 100*time.Millisecond)
	def(&c.RestartMax, 10*time.Second)
	return c, nil
}

func checkUpstream(u string) error {
	if path, ok := strings.CutPrefix(u, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("upstream %q: a unix socket needs an absolute path", u)
		}
		return nil
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.Host == "" || (p.Path != "" && p.Path != "/") {
		return fmt.Errorf(`upstream %q: expected "unix:/path" or "http://host:port"`, u)
	}
	return nil
}
