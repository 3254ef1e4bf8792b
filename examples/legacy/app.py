"""A stdlib-only WSGI app standing in for the legacy Genropy site behind gnrhost.

Phase 0 serves it through gnrhost (plugin legacy-wsgi, gunicorn). It answers:
  GET  /          a hello page naming this process
  POST /echo      the request body streamed back, with its SHA-256 in X-Body-Sha256
  GET  /chunked   five chunks produced one by one (a streamed response)
  GET  /headers   the request's Host and X-Forwarded-* headers, as JSON
  GET  /version   the text of version.txt as read when the app was imported (a reload
                  through SIGHUP re-imports the app in new workers)
and hands the Genropy routes to gnrsite.py (connections, pages, RPC and datachanges kept in
gnrdaemon over Pyro4; 503 until GNR_DAEMON_URI and friends are set, see README.md):
  GET  /pages/<pagename>   a new page          POST /pages/<pagename>  an RPC of a page
  POST /_ping              a page's datachanges
"""
import hashlib
import json
import os
import time

_HERE = os.path.dirname(os.path.abspath(__file__))


def _read_version():
    try:
        with open(os.path.join(_HERE, "version.txt")) as f:
            return f.read().strip()
    except OSError:
        return "unversioned"


VERSION = _read_version()


def _send(start_response, status, body, content_type="text/plain; charset=utf-8", extra=()):
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers.extend(extra)
    start_response(status, headers)
    return [body]


def _echo(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    digest = hashlib.sha256()
    chunks = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            break
        digest.update(chunk)
        chunks.append(chunk)
        remaining -= len(chunk)
    body = b"".join(chunks)
    return _send(start_response, "200 OK", body, "application/octet-stream",
                 [("X-Body-Sha256", digest.hexdigest())])


def _chunked(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])

    def chunks():
        for i in range(5):
            yield ("chunk %d\n" % i).encode()
            time.sleep(0.05)

    return chunks()


def _genropy(environ, start_response):
    # Imported on first use: the routes above need neither gnrsite.py nor Pyro4.
    try:
        import gnrsite
    except ImportError as exc:
        return _send(start_response, "503 Service Unavailable",
                     ("the Genropy routes are off: cannot import gnrsite (%s)\n" % exc).encode())
    return gnrsite.application(environ, start_response)


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/" and method == "GET":
        return _send(start_response, "200 OK", ("hello from the legacy site (pid %d)\n" % os.getpid()).encode())
    if path == "/echo" and method == "POST":
        return _echo(environ, start_response)
    if path == "/chunked":
        return _chunked(environ, start_response)
    if path == "/headers":
        seen = {k: environ.get(k, "") for k in ("HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")}
        return _send(start_response, "200 OK", json.dumps(seen).encode(), "application/json")
    if path == "/version":
        return _send(start_response, "200 OK", VERSION.encode())
    if path == "/_ping" or path.startswith("/pages/"):
        return _genropy(environ, start_response)
    return _send(start_response, "404 Not Found", b"not found\n")
