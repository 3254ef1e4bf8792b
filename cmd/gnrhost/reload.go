package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// reloadPoll is how often --reload looks at the files. Polling the modification times
// of a handful of files costs nothing and needs no platform-specific watcher.
const reloadPoll = 300 * time.Millisecond

// watchAndReload swaps to the set file again whenever it or one of its page modules
// changes (development: `serve --reload`). A change that does not validate or start is
// logged and the running set keeps serving; the next change is tried again. loaded is
// the set file's stamp from before it was read: the goroutine may start after an edit.
func watchAndReload(ctx context.Context, rt *host.Runtime, set *pluginset.Set, loaded stamp, logger *slog.Logger) {
	seen := stamps(watchedFiles(set))
	seen[set.Path] = loaded
	t := time.NewTicker(reloadPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		files := watchedFiles(rt.Current().Set())
		now := stamps(files)
		if equalStamps(now, seen) {
			continue
		}
		// Let an editor finish writing before reading.
		select {
		case <-ctx.Done():
			return
		case <-time.After(reloadPoll):
		}
		logger.Info("--reload: a watched file changed; swapping")
		if _, err := rt.Reload(ctx); err != nil {
			logger.Error("--reload: swap refused; the running set keeps serving", "err", err)
		}
		seen = stamps(watchedFiles(rt.Current().Set()))
	}
}

// watchedFiles are the set file and the WASM modules its page routes load.
func watchedFiles(set *pluginset.Set) []string {
	files := []string{set.Path}
	dir := filepath.Dir(set.Path)
	for _, p := range set.Pages {
		if p.Module == "" {
			continue
		}
		m := p.Module
		if !filepath.IsAbs(m) {
			m = filepath.Join(dir, m)
		}
		files = append(files, m)
	}
	return files
}

type stamp struct {
	mod  time.Time
	size int64
}

func stamps(files []string) map[string]stamp {
	out := make(map[string]stamp, len(files))
	for _, f := range files {
		out[f] = fileStamp(f)
	}
	return out
}

// fileStamp is the zero stamp for a file that cannot be read, so its return is a change.
func fileStamp(file string) stamp {
	fi, err := os.Stat(file)
	if err != nil {
		return stamp{}
	}
	return stamp{fi.ModTime(), fi.Size()}
}

func equalStamps(a, b map[string]stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
