package admin

import (
	"html/template"
	"net/http"
)

var pageTmpl = template.Must(template.New("admin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gnrhost admin — {{.S.Set.Name}}</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.up{color:#080} .down,.failed{color:#b00} .msg{background:#ffd;padding:.5em;border:1px solid #cc9}
.counts span{display:inline-block;margin-right:1.5em}
</style></head><body>
<h1>gnrhost — set <b id="set-name">{{.S.Set.Name}}</b></h1>
{{if .Msg}}<p class="msg" id="message">{{.Msg}}</p>{{end}}
<p>File <code>{{.S.Set.File}}</code>, serving since {{.S.Set.Since.Format "2006-01-02 15:04:05"}};
registry <b>{{.S.Set.Registry}}</b>{{if .S.Set.Legacy}}, legacy <b>{{.S.Set.Legacy}}</b>{{end}}{{range $k, $v := .S.Set.PageRoutes}}, {{$v}} {{$k}} page routes{{end}}.</p>
<p class="counts"><span>Pages: <b id="pages">{{.S.Pages}}</b> ({{.S.ResidentPages}} resident)</span>
<span>Connections: <b id="connections">{{.S.Connections}}</b></span><span>Users: <b id="users">{{.S.Users}}</b></span>
<span>WebSockets: <b id="websockets">{{.S.WebSockets}}</b></span></p>
{{if .S.RegistryError}}<p class="down">Registry: {{.S.RegistryError}}</p>{{end}}
<h2>Plugins</h2>
<table id="plugins"><tr><th>slot</th><th>plugin</th><th>mode</th><th>state</th><th>pid</th><th>restarts</th><th>last error</th></tr>
{{range .S.Plugins}}<tr><td>{{.Slot}}</td><td>{{.Plugin}}</td><td>{{.Mode}}</td><td class="{{.State}}">{{.State}}</td><td>{{if .PID}}{{.PID}}{{end}}</td><td>{{.Restarts}}</td><td>{{.LastError}}</td></tr>
{{end}}</table>
<h2>Rollback</h2>
{{if .S.Previous}}<form method="post" action="/_gnr/admin/rollback"><p>Previous set: <b>{{.S.Previous.Name}}</b> (<code>{{.S.Previous.File}}</code>)
<button id="rollback" type="submit">Roll back to {{.S.Previous.Name}}</button></p></form>
{{else}}<p>No previous set to roll back to.</p>{{end}}
<h2>Swap history</h2>
<table id="history"><tr><th>started</th><th>kind</th><th>from</th><th>to</th><th>result</th><th>ms</th><th>reason</th></tr>
{{range .S.Swaps}}<tr><td>{{.Started.Format "15:04:05"}}</td><td>{{.Kind}}</td><td>{{.From}}</td><td>{{.To}}</td><td class="{{.Result}}">{{.Result}}</td><td>{{printf "%.0f" .Millis}}</td><td>{{.Error}}</td></tr>
{{else}}<tr><td colspan="7">No swaps yet.</td></tr>{{end}}</table>
</body></html>
`))

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gnrhost admin</title></head>
<body style="font:14px system-ui,sans-serif;margin:2em">
<h1>gnrhost admin</h1>{{if .}}<p style="color:#b00">{{.}}</p>{{end}}
<form method="post" action="/_gnr/admin/login"><label>Admin token <input name="token" type="password" autofocus></label>
<button type="submit">Sign in</button></form></body></html>
`))

func pageHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

func renderPage(w http.ResponseWriter, s Status, msg string) {
	pageHeaders(w)
	_ = pageTmpl.Execute(w, struct {
		S   Status
		Msg string
	}{s, msg})
}

func renderLogin(w http.ResponseWriter, code int, msg string) {
	pageHeaders(w)
	w.WriteHeader(code)
	_ = loginTmpl.Execute(w, msg)
}
