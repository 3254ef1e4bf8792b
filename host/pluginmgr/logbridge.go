package pluginmgr

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// MaxLogLine bounds one plugin log line kept in memory; longer lines are cut there and
// marked, so a plugin cannot make the host buffer without limit.
const MaxLogLine = 4 << 20

// logBridge turns a plugin's stderr into host log records tagged with the plugin's name.
// go-plugin reads stderr with a 64 KB buffer and hands longer lines over in pieces; the
// bridge puts the pieces back together before parsing, so long lines arrive whole.
type logBridge struct {
	logger *slog.Logger

	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func newLogBridge(logger *slog.Logger) *logBridge {
	return &logBridge{logger: logger}
}

func (b *logBridge) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := MaxLogLine - b.buf.Len(); len(chunk) > room {
			b.buf.Write(chunk[:room])
			b.truncated = true
		} else {
			b.buf.Write(chunk)
		}
		if i < 0 {
			break
		}
		b.emitLocked()
		p = p[i+1:]
	}
	return n, nil
}

// Flush emits a last line that had no newline (the plugin died mid-line).
func (b *logBridge) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 0 {
		b.emitLocked()
	}
}

func (b *logBridge) emitLocked() {
	line := bytes.TrimRight(b.buf.Bytes(), "\r")
	truncated := b.truncated
	defer func() {
		b.buf.Reset()
		b.truncated = false
	}()
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	level, msg, attrs, ok := parseStructured(line)
	if !ok {
		level, msg, attrs = slog.LevelInfo, string(line), nil
	}
	if truncated {
		attrs = append(attrs, slog.Bool("truncated", true), slog.Int("kept_bytes", MaxLogLine))
	}
	b.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// parseStructured reads a JSON log line written by slog's JSON handler (time, level, msg)
// or by hclog (@timestamp, @level, @message, @module), keeping the other fields as attrs.
func parseStructured(line []byte) (slog.Level, string, []slog.Attr, bool) {
	if len(line) == 0 || line[0] != '{' {
		return 0, "", nil, false
	}
	var fields map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		return 0, "", nil, false
	}
	level := slog.LevelInfo
	var msg string
	var attrs []slog.Attr
	for k, v := range fields {
		switch k {
		case "level", "@level":
			level = parseLevel(v)
		case "msg", "@message":
			msg, _ = v.(string)
		case "time", "@timestamp":
			// The host stamps its own time; the child's clock adds nothing.
		case "@module", "@caller":
		default:
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	// Map order is random; a stable order keeps lines comparable between runs.
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	return level, msg, attrs, true
}

func parseLevel(v any) slog.Level {
	s, _ := v.(string)
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogWriter turns a child process's stderr into records on a logger: slog JSON lines keep
// their level, message and attributes, other lines become info records. Call Flush after
// the child exits, for a last line without a newline.
type LogWriter interface {
	io.Writer
	Flush()
}

// NewLogWriter returns a LogWriter logging to logger (tag it with the child). Children
// that are not plugins use it too: the balancer's host processes.
func NewLogWriter(logger *slog.Logger) LogWriter { return newLogBridge(logger) }
