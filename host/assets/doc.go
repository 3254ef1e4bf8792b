// Package assets embeds the files the host serves under /_gnr/: the JavaScript client
// (client.js) that pages load with one script tag, and the scripts of the example pages.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// FS is the tree served at /_gnr/ (client.js, examples/*.js).
func FS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}
