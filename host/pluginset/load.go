package pluginset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes bounds a set file; a set is a page of YAML, so anything bigger is a mistake.
const MaxFileBytes = 1 << 20

// ConfigCheck validates a plugin's config (JSON) without starting the plugin.
type ConfigCheck func(config json.RawMessage) error

// Catalog lists, per slot ("registry", "legacy", "pages", "ipc"), the plugin names this
// build knows and how to check their configs. A nil ConfigCheck accepts any config.
// Page routes with a module are looked up under the name "wasm" in the "pages" slot.
type Catalog map[string]map[string]ConfigCheck

func (c Catalog) names(slot string) string {
	var names []string
	for n := range c[slot] {
		names = append(names, n)
	}
	if len(names) == 0 {
		return "(none in this build)"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Load reads, decodes and validates a set file against catalog. On failure the error is
// Problems (every problem, each with FILE:LINE:COLUMN) or a read error naming the file.
func Load(path string, catalog Catalog) (*Set, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, catalog)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plugin set %s: cannot read: %w", path, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("plugin set %s: cannot read: %w", path, err)
	}
	if n > MaxFileBytes {
		return nil, fmt.Errorf("plugin set %s: larger than %d bytes", path, MaxFileBytes)
	}
	return buf.Bytes(), nil
}

// Parse decodes and validates set data as if read from path.
func Parse(path string, data []byte, catalog Catalog) (*Set, error) {
	problems := &problemList{file: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		problems.add(syntaxPos(err), "", "not valid YAML: %s", syntaxMsg(err))
		return nil, problems.err()
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		problems.add(Position{Line: 1, Column: 1}, "", "empty file; a plugin set needs at least a registry slot")
		return nil, problems.err()
	}
	set := &Set{}
	if abs, err := filepath.Abs(path); err == nil {
		set.Path = abs
	} else {
		set.Path = path
	}
	d := &decoder{problems: problems, where: map[string]Position{}}
	d.decode(root.Content[0], reflect.ValueOf(set).Elem(), "")
	// Validate even after decoding problems, so one run reports everything wrong.
	applyDefaults(set)
	validate(set, catalog, d.where, problems)
	if err := problems.err(); err != nil {
		return nil, err
	}
	return set, nil
}

func syntaxPos(err error) Position {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return Position{}
	}
	// yaml.v3 syntax errors read "yaml: line N: message".
	var line int
	if _, scanErr := fmt.Sscanf(err.Error(), "yaml: line %d:", &line); scanErr == nil {
		return Position{Line: line, Column: 1}
	}
	return Position{}
}

func syntaxMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
		msg = msg[i+2:]
	}
	return msg
}
