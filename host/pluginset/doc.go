// Package pluginset reads and checks plugin-set files: the YAML that names which plugin
// fills each slot (registry, legacy, pages, ipc) and the host's settings for one phase of
// the migration.
//
// Decoding is strict and positional: every problem (an unknown key, a wrong type, a missing
// required key, an unknown plugin, a bad plugin config) is reported as FILE:LINE:COLUMN with
// the key and what was expected, and all problems of a file are reported together so one
// edit can fix them. serve, validate and swap all load sets through Load.
package pluginset
