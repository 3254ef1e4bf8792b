// Package legacywsgi is the `legacy-wsgi` plugin: it runs the unmodified WSGI site under
// gunicorn (Debian's gunicorn, started by /usr/bin/python3) bound to a unix socket the
// plugin owns, restarts it with backoff when it dies, reloads it with SIGHUP and stops it
// with the host; or it attaches to a site that already runs (`upstream`). It is the
// control plane only: the host proxies requests straight to Address().
package legacywsgi
