package pluginset

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a set file, at a place in it.
type Problem struct {
	File string
	Pos  Position
	// Key is the dotted path of the key concerned (e.g. "registry.mode").
	Key string
	Msg string
}

func (p Problem) Error() string {
	loc := p.File
	if p.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Pos.Line, p.Pos.Column)
	}
	if p.Key == "" {
		return loc + ": " + p.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
}

// Problems is every problem found in one file; Load returns it as its error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

type problemList struct {
	file string
	list Problems
}

func (l *problemList) add(pos Position, key, format string, args ...any) {
	l.list = append(l.list, Problem{File: l.file, Pos: pos, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (l *problemList) err() error {
	if len(l.list) == 0 {
		return nil
	}
	return l.list
}
