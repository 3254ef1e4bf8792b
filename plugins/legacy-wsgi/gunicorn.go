package legacywsgi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// pythonErrorRE finds the line of a traceback that names the exception.
var pythonErrorRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Exit|Interrupt)|[A-Za-z_][A-Za-z0-9_.]*Warning)\b.*`)

// process is one run of gunicorn: the command, its exit, and the last lines it wrote.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	// drained closes when the output pipe is at its end (every writer gone).
	drained chan struct{}
	err     error

	mu      sync.Mutex
	lastErr string // the last Python exception line seen
	tail    []string
}

func (p *process) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m := pythonErrorRE.FindString(strings.TrimSpace(line)); m != "" {
		p.lastErr = m
	}
	p.tail = append(p.tail, line)
	if len(p.tail) > 20 {
		p.tail = p.tail[1:]
	}
}

// reason explains why the process stopped: the Python error if one was printed.
func (p *process) reason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastErr != "" {
		return p.lastErr
	}
	if n := len(p.tail); n > 0 {
		return strings.TrimSpace(p.tail[n-1])
	}
	if p.err != nil {
		return p.err.Error()
	}
	return "gunicorn exited"
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// startGunicorn runs `python -m gunicorn` for cfg on socket and returns at once; the
// caller waits for the socket to answer.
func startGunicorn(cfg Config, dir, socket string, logger *slog.Logger) (*process, error) {
	args := []string{"-m", "gunicorn",
		"--bind", "unix:" + socket,
		"--workers", strconv.Itoa(cfg.Workers),
		"--worker-class", cfg.WorkerClass,
		"--threads", strconv.Itoa(cfg.Threads),
		"--timeout", strconv.Itoa(int(cfg.Timeout.D().Seconds())),
		"--graceful-timeout", strconv.Itoa(int(cfg.GracefulTimeout.D().Seconds())),
		// Logs to stderr, where the host reads them line by line.
		"--error-logfile", "-", "--log-level", "info",
	}
	// Without chdir the site runs in the plugin set's directory, not wherever the host
	// happened to be started.
	chdir := resolve(dir, cfg.Chdir)
	if cfg.Chdir == "" {
		chdir = dir
	}
	if chdir != "" {
		args = append(args, "--chdir", chdir)
	}
	if len(cfg.PythonPath) > 0 {
		paths := make([]string, len(cfg.PythonPath))
		for i, p := range cfg.PythonPath {
			paths[i] = resolve(dir, p)
		}
		args = append(args, "--pythonpath", strings.Join(paths, ","))
	}
	args = append(args, cfg.App)
	cmd := exec.Command(cfg.Python, args...)
	cmd.Env = os.Environ()
	for k, v := range cfg.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// gunicorn's master stops its workers on SIGTERM: the kernel sends it when the host
	// dies, so the site never outlives its host. Its own process group lets the plugin
	// clean up workers orphaned by a master that died hard.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	// A plain pipe, not StderrPipe: workers inherit it and keep it open after the master
	// dies, so the master's exit is watched with Wait, apart from the reading.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &process{cmd: cmd, exited: make(chan struct{}), drained: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start gunicorn with %s: %w", cfg.Python, err)
	}
	pw.Close()
	go p.pump(pr, logger)
	go p.wait()
	return p, nil
}

// wait records the master's exit and kills what is left of its process group (workers
// a SIGKILLed master could not stop).
func (p *process) wait() {
	err := p.cmd.Wait()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	close(p.exited)
}

// pump logs gunicorn's output until every writer (master and workers) is gone.
func (p *process) pump(r io.ReadCloser, logger *slog.Logger) {
	defer close(p.drained)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.note(line)
		logger.Info(line, "source", "gunicorn")
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// waitReady waits until the site answers an HTTP request (any status: the master binds
// the socket before its workers have imported the app, so a connection alone proves
// nothing), the process dies, or ctx ends.
func waitReady(ctx context.Context, p *process, socket, path string) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if probe(ctx, socket, path) == nil {
			return nil
		}
		select {
		case <-p.exited:
			// The traceback may still be in the pipe: read it before explaining.
			select {
			case <-p.drained:
			case <-time.After(2 * time.Second):
			}
			return fmt.Errorf("gunicorn exited before serving: %s", p.reason())
		case <-ctx.Done():
			return fmt.Errorf("gunicorn did not serve within the start timeout: %w (last output: %s)", ctx.Err(), p.reason())
		case <-t.C:
		}
	}
}

// probe makes one HTTP request over the socket.
func probe(ctx context.Context, socket, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://legacy"+path, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.Body.Close()
}

// stop ends gunicorn gracefully (SIGTERM lets workers finish their requests), then by
// SIGKILL after the graceful timeout.
func (p *process) stop(grace time.Duration) {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace + time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

var errDown = fmt.Errorf("legacy-wsgi: the site is down: %w", abi.ErrUnavailable)
