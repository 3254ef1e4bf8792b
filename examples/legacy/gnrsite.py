"""The Genropy behaviours of the legacy site in miniature, on gnrdaemon over Pyro4.

app.py hands it every request for /pages/<pagename> and /_ping. It keeps no state of its
own: connections, pages and their datachanges live in gnrdaemon, reached the way a Genropy
site reaches it (Pyro4.Proxy with _pyroHmacKey, pickle, GnrDaemon.getSite(sitename) ->
register_uri -> a SiteRegister proxy, one proxy per thread). See README.md for the URL
scheme, the cookie and the reply envelope.

Configuration (environment; without it these routes answer 503):
  GNR_DAEMON_URI      PYRO:GnrDaemon@127.0.0.1:40404
  GNR_DAEMON_HMAC     the daemon's HMAC key
  GNR_SITE_NAME       the site's name in gnrdaemon, also the connection cookie's name
  GNR_SITE_SECRET     the key that signs the connection cookie
  GNR_DAEMON_TIMEOUT  seconds a daemon call may take (default 5)
"""
import base64
import hashlib
import hmac
import html
import inspect
import json
import os
import re
import sys
import threading
import time
import traceback
import types
import uuid
import xml.etree.ElementTree as ET
from datetime import date, datetime
from http import HTTPStatus
from urllib.parse import parse_qsl

import Pyro4
import Pyro4.errors

# Datachanges travel as pickled gnr.web.gnrwebpage.ClientDataChange objects. Without a
# Genropy install, a plain class under that module path lets pickle load them.
try:
    from gnr.web.gnrwebpage import ClientDataChange  # noqa: F401
except ImportError:
    class ClientDataChange(object):
        """Stand-in for Genropy's class: pickle fills in its attributes."""

    for _name in ("gnr", "gnr.web", "gnr.web.gnrwebpage"):
        sys.modules.setdefault(_name, types.ModuleType(_name))
    sys.modules["gnr.web.gnrwebpage"].ClientDataChange = ClientDataChange
    ClientDataChange.__module__ = "gnr.web.gnrwebpage"

# As Genropy's client: pickle, no metadata (calls forwarded by register_name are not
# methods the proxy could list), no @expose.
Pyro4.config.SERIALIZER = "pickle"
Pyro4.config.METADATA = False
Pyro4.config.REQUIRE_EXPOSE = False

PAGENAME_RE = re.compile(r"^/pages/([A-Za-z0-9_]+)$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
TABLE_RE = re.compile(r"^[A-Za-z0-9_]+\.[A-Za-z0-9_]+$")
METHOD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_FORM_BYTES = 1 << 20
BROWSERS = (("Chrome", "Chrome"), ("Safari", "Safari"), ("Firefox", "Firefox"),
            ("Opera", "Opera"), ("MSIE", "InternetExplorer"))


def _read_config(env):
    """Returns (config, problem): problem says why the routes are off."""
    names = ("GNR_DAEMON_URI", "GNR_DAEMON_HMAC", "GNR_SITE_NAME", "GNR_SITE_SECRET")
    missing = [n for n in names if not env.get(n)]
    if missing:
        return None, ("the Genropy routes are off: set %s (missing: %s)"
                      % (", ".join(names), ", ".join(missing)))
    if not re.match(r"^[A-Za-z0-9_-]+$", env["GNR_SITE_NAME"]):
        return None, "GNR_SITE_NAME %r: use letters, digits, _ and -" % env["GNR_SITE_NAME"]
    try:
        timeout = float(env.get("GNR_DAEMON_TIMEOUT") or 5)
    except ValueError:
        return None, "GNR_DAEMON_TIMEOUT %r: not a number of seconds" % env["GNR_DAEMON_TIMEOUT"]
    return types.SimpleNamespace(
        uri=env["GNR_DAEMON_URI"], hmac_key=env["GNR_DAEMON_HMAC"].encode(),
        site=env["GNR_SITE_NAME"], secret=env["GNR_SITE_SECRET"].encode(),
        timeout=timeout), None


CONFIG, PROBLEM = _read_config(os.environ)
if CONFIG:
    Pyro4.config.COMMTIMEOUT = CONFIG.timeout


class Reply(Exception):
    """Ends a request with an HTTP status and a message."""

    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


class RpcError(Exception):
    """Raised by an rpc_ method: the reply's <error>, with status 200."""


# ---- gnrdaemon ----

_local = threading.local()  # Pyro4 proxies are not thread-safe: one per thread


def _proxy(uri):
    proxy = Pyro4.Proxy(uri)
    proxy._pyroHmacKey = CONFIG.hmac_key
    return proxy


def register():
    """This thread's SiteRegister proxy, found through GnrDaemon.getSite."""
    reg = getattr(_local, "register", None)
    if reg is None:
        with _proxy(CONFIG.uri) as daemon:
            deadline = time.monotonic() + CONFIG.timeout
            # The real daemon answers {} while it forks the site's register process.
            site = daemon.getSite(CONFIG.site, create=True) or {}
            while not site.get("register_uri"):
                if time.monotonic() > deadline:
                    raise Reply(503, "gnrdaemon at %s did not start site %s" % (CONFIG.uri, CONFIG.site))
                time.sleep(0.2)
                site = daemon.getSite(CONFIG.site, create=True) or {}
        reg = _local.register = _proxy(site["register_uri"])
    return reg


def forget_register():
    """Drops this thread's proxy after a failure: the next request connects afresh."""
    reg = getattr(_local, "register", None)
    _local.register = None
    if reg is not None:
        reg._pyroRelease()


def notify_db_events(reg, events, origin_page_id, reason):
    # Genropy's call: SiteRegister forwards it to the page register.
    reg.notifyDbEvents(events, register_name="page", origin_page_id=origin_page_id,
                       dbevent_reason=reason)


# ---- ids and the connection cookie ----

def new_id():
    """22 URL-safe base64 characters of a random uuid, '-' written '_' as Genropy does."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes)[:22].decode().replace("-", "_")


def _signature(connection_id):
    mac = hmac.new(CONFIG.secret, connection_id.encode(), hashlib.sha1).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def cookie_value(connection_id):
    """<connection_id>.<unpadded URL-safe base64 of HMAC-SHA1(secret, connection_id)>"""
    return connection_id + "." + _signature(connection_id)


def cookie_connection_id(environ):
    """The connection id of a well-signed cookie, else None."""
    for part in environ.get("HTTP_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name != CONFIG.site:
            continue
        connection_id, _, signature = value.partition(".")
        # Bytes: compare_digest refuses str with non-ASCII characters.
        given = signature.encode("latin-1", "replace")
        if ID_RE.match(connection_id) and hmac.compare_digest(given, _signature(connection_id).encode()):
            return connection_id
    return None


def _client(environ):
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
    ip = forwarded or environ.get("REMOTE_ADDR") or "0.0.0.0"
    agent = environ.get("HTTP_USER_AGENT", "")
    browser = next((name for key, name in BROWSERS if key in agent), "unknown browser")
    return ip, agent, browser


def connection_for(environ, reg):
    """(connection_id, user, is_new): the cookie's connection if gnrdaemon still has it,
    else a new guest connection."""
    connection_id = cookie_connection_id(environ)
    if connection_id:
        item = reg.connection(connection_id)
        if item:
            return connection_id, item["user"], False
    ip, agent, browser = _client(environ)
    connection_id = new_id()
    user = "guest_" + connection_id
    # gnrdaemon adds the user item for a user it does not know yet.
    reg.new_connection(connection_id, connection_name="%s_%s" % (ip.replace(".", "_"), browser),
                       user=user, user_id=None, user_name=None, user_tags=None, user_ip=ip,
                       user_agent=agent, browser_name=browser)
    return connection_id, user, True


def owned_page(environ, reg, page_id):
    """The page item of page_id if it belongs to the cookie's connection."""
    connection_id = cookie_connection_id(environ)
    if not connection_id:
        raise Reply(403, "no valid connection cookie")
    if not ID_RE.match(page_id or ""):
        raise Reply(400, "page_id: expected a 22-character page id")
    page = reg.page(page_id)
    if not page:
        raise Reply(404, "no longer existing page %s" % page_id)
    if page["connection_id"] != connection_id:
        raise Reply(403, "page %s does not belong to this connection" % page_id)
    return page


# ---- replies ----

def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def to_json(value):
    return json.dumps(value, default=_plain, separators=(",", ":"))


_NO_RESULT = object()


def envelope(result=_NO_RESULT, error=None, changes=None):
    """The XML reply: <GenRoBag> with <error>, <result> and <dataChanges> (README.md)."""
    root = ET.Element("GenRoBag")
    if error is not None:
        ET.SubElement(root, "error").text = error
    if result is not _NO_RESULT:
        ET.SubElement(root, "result").text = to_json(result)
    if changes is not None:
        node = ET.SubElement(root, "dataChanges")
        for i, change in enumerate(changes):
            attrs = {"change_path": change.path,
                     "change_idx": str(change.change_idx),
                     "change_fired": to_json(bool(change.fired)),
                     "change_delete": to_json(bool(getattr(change, "delete", False)))}
            if change.reason is not None:
                attrs["change_reason"] = str(change.reason)
            if change.attributes is not None:
                attrs["change_attr"] = to_json(change.attributes)
            if getattr(change, "change_ts", None) is not None:
                attrs["change_ts"] = _plain(change.change_ts)
            ET.SubElement(node, "sc_%d" % i, attrs).text = to_json(change.value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _status(code):
    return "%d %s" % (code, HTTPStatus(code).phrase)


def _send(start_response, code, body, content_type, extra=()):
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("Cache-Control", "no-store")]
    headers.extend(extra)
    start_response(_status(code), headers)
    return [body]


def _send_xml(start_response, code, body):
    return _send(start_response, code, body, "text/xml; charset=utf-8")


# ---- requests ----

def read_form(environ):
    """Query string and urlencoded body fields (the body wins), first value of each."""
    fields = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Reply(400, "bad Content-Length")
    if length > MAX_FORM_BYTES:
        raise Reply(413, "form over %d bytes" % MAX_FORM_BYTES)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    fields.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


PAGE_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="gnr-page-id" content="{page_id}">
<title>{pagename}</title></head>
<body><h1>{pagename}</h1><p>page <code>{page_id}</code></p><pre id="changes"></pre>
<script>
// Polls /_ping as a Genropy client does and shows the datachanges it gets.
setInterval(function () {{
  fetch("/_ping", {{method: "POST", body: new URLSearchParams({{page_id: "{page_id}"}})}})
    .then(function (r) {{ return r.text(); }})
    .then(function (xml) {{
      if (xml.indexOf("<sc_") >= 0) document.getElementById("changes").textContent += xml + "\\n";
    }});
}}, 5000);
</script></body></html>
"""


def serve_page(environ, start_response, pagename):
    """GET /pages/<pagename>[?subscribe=pkg.table,...]: a new page of the caller's connection."""
    query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
    tables = [t.strip() for t in query.get("subscribe", "").split(",") if t.strip()]
    bad = [t for t in tables if not TABLE_RE.match(t)]
    if bad:
        raise Reply(400, "subscribe: %s is not a pkg.table name" % bad[0])
    reg = register()
    connection_id, user, is_new = connection_for(environ, reg)
    ip, agent, _ = _client(environ)
    page_id = new_id()
    # SiteRegister.new_page does not pass subscribed_tables on: as in Genropy, the page
    # subscribes its tables afterwards.
    reg.new_page(page_id, pagename=pagename, connection_id=connection_id, user=user,
                 user_ip=ip, user_agent=agent, relative_url=environ.get("PATH_INFO"), data=None)
    for table in tables:
        reg.subscribeTable(page_id, table, True)
    body = PAGE_HTML.format(page_id=page_id, pagename=html.escape(pagename)).encode()
    extra = [("X-Gnr-Page-Id", page_id)]
    if is_new:
        extra.append(("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Lax"
                      % (CONFIG.site, cookie_value(connection_id))))
    return _send(start_response, 200, body, "text/html; charset=utf-8", extra)


def serve_rpc(environ, start_response, pagename):
    """POST /pages/<pagename> with page_id, method and the method's fields."""
    form = read_form(environ)
    page_id, method = form.pop("page_id", ""), form.pop("method", "")
    if not METHOD_RE.match(method):
        raise Reply(400, "method: expected a name such as echo")
    reg = register()
    page = owned_page(environ, reg, page_id)
    reg.refresh(page_id, last_rpc_ts=datetime.now())
    # What was pending when the call came; what the call sets waits for the next one.
    changes = reg.get_datachanges(page_id, reset=True, register_name="page") or []
    handler = globals().get("rpc_" + method)
    if not callable(handler):
        return _send_xml(start_response, 200, envelope(None, "missing handler: %s" % method, changes))
    call = types.SimpleNamespace(reg=reg, page_id=page_id, page=page, pagename=pagename)
    kwargs = {k: v for k, v in form.items() if not k.startswith("_")}  # _x: client bookkeeping
    try:
        inspect.signature(handler).bind(call, **kwargs)
    except TypeError as exc:
        return _send_xml(start_response, 200, envelope(None, "%s: %s" % (method, exc), changes))
    try:
        result = handler(call, **kwargs)
    except RpcError as exc:
        return _send_xml(start_response, 200, envelope(None, "%s: %s" % (method, exc), changes))
    return _send_xml(start_response, 200, envelope(result, None, changes))


def serve_ping(environ, start_response):
    """POST /_ping with page_id: refreshes the page and hands over its datachanges."""
    page_id = read_form(environ).get("page_id", "")
    reg = register()
    owned_page(environ, reg, page_id)
    changes = reg.handle_ping(page_id=page_id)
    if changes is False:
        raise Reply(404, "no longer existing page %s" % page_id)
    return _send_xml(start_response, 200, envelope(None, None, changes or []))


# ---- RPC methods: rpc_<method>(call, **form fields) ----

def rpc_echo(call, **fields):
    """The call's other fields, as sent."""
    return fields


def rpc_whoami(call):
    """The page and its connection as gnrdaemon has them."""
    page = call.page
    connection = call.reg.connection(page["connection_id"]) or {}
    return {"page_id": call.page_id, "pagename": page["pagename"],
            "connection_id": page["connection_id"], "user": page["user"],
            "subscribed_tables": page["subscribed_tables"], "relative_url": page["relative_url"],
            "connection_name": connection.get("connection_name"),
            "browser_name": connection.get("browser_name"),
            "connection_user": connection.get("user")}


def rpc_setValue(call, path, value="", reason=None):
    """A datachange for this page at path (value as sent); the next ping carries it."""
    call.reg.set_datachange(call.page_id, path, value, reason=reason, register_name="page")


def rpc_notifyDb(call, table, pkey="", dbevent="U"):
    """A dbevent on table: every page subscribed to it gets gnr.dbchanges.<pkg_table>."""
    if not TABLE_RE.match(table):
        raise RpcError("table %r: expected pkg.table" % table)
    notify_db_events(call.reg, {table: [{"pkey": pkey, "dbevent": dbevent}]},
                     call.page_id, call.pagename)


# ---- entry ----

def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    as_xml = method == "POST"

    def fail(code, message, extra=()):
        if as_xml:
            body, content_type = envelope(error=message), "text/xml; charset=utf-8"
        else:
            body, content_type = (message + "\n").encode(), "text/plain; charset=utf-8"
        return _send(start_response, code, body, content_type, extra)

    if PROBLEM:
        return fail(503, PROBLEM)
    match = PAGENAME_RE.match(path)
    try:
        if path == "/_ping" and method == "POST":
            return serve_ping(environ, start_response)
        if match and method == "GET":
            return serve_page(environ, start_response, match.group(1))
        if match and method == "POST":
            return serve_rpc(environ, start_response, match.group(1))
        if match or path == "/_ping":
            allow = "GET, POST" if match else "POST"
            return fail(405, "method %s not allowed here" % method, [("Allow", allow)])
        return fail(404, "not found")
    except Reply as reply:
        return fail(reply.status, reply.message)
    except Pyro4.errors.PyroError as exc:
        forget_register()
        return fail(503, "gnrdaemon unavailable at %s: %s" % (CONFIG.uri, exc))
    except Exception:
        forget_register()
        traceback.print_exc()
        return fail(500, "internal error (the traceback is in the site log)")
