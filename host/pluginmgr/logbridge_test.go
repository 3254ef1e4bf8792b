package pluginmgr

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

type lastRecord struct {
	recs []slog.Record
}

func (l *lastRecord) Enabled(context.Context, slog.Level) bool { return true }
func (l *lastRecord) Handle(_ context.Context, r slog.Record) error {
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *lastRecord) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *lastRecord) WithGroup(string) slog.Handler      { return l }

func TestLogBridgeParsesAndReassembles(t *testing.T) {
	h := &lastRecord{}
	b := newLogBridge(slog.New(h))
	long := strings.Repeat("y", 200<<10)
	line := `{"time":"x","level":"WARN","msg":"` + long + `","k":"v"}`
	// go-plugin writes a long line in 64 KB pieces, then the newline.
	for i := 0; i < len(line); i += 64 << 10 {
		end := min(i+64<<10, len(line))
		b.Write([]byte(line[i:end]))
	}
	b.Write([]byte("\n"))
	b.Write([]byte(`{"@level":"error","@message":"from hclog","@module":"m"}` + "\nplain text\n\n"))
	b.Write([]byte("no newline at exit"))
	b.Flush()
	if len(h.recs) != 4 {
		t.Fatalf("got %d records, want 4", len(h.recs))
	}
	if r := h.recs[0]; r.Level != slog.LevelWarn || r.Message != long {
		t.Fatalf("first record: level %v, message of %d bytes", r.Level, len(r.Message))
	}
	if r := h.recs[1]; r.Level != slog.LevelError || r.Message != "from hclog" {
		t.Fatalf("hclog record: %v %q", r.Level, r.Message)
	}
	if h.recs[2].Message != "plain text" || h.recs[3].Message != "no newline at exit" {
		t.Fatalf("plain records: %q %q", h.recs[2].Message, h.recs[3].Message)
	}
}

func TestLogBridgeBoundsALine(t *testing.T) {
	h := &lastRecord{}
	b := newLogBridge(slog.New(h))
	b.Write(bytes.Repeat([]byte("z"), MaxLogLine+1000))
	b.Write([]byte("\n"))
	if len(h.recs) != 1 || len(h.recs[0].Message) != MaxLogLine {
		t.Fatalf("records %d, first of %d bytes", len(h.recs), len(h.recs[0].Message))
	}
}
