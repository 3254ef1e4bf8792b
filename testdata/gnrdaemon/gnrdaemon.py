#!/usr/bin/python3
"""A stand-in for Genropy's gnrdaemon, for gnrhost's tests.

It speaks real Pyro4 (Debian python3-pyro4 4.82) with the settings the real daemon uses
(pickle, HMAC, METADATA=False, REQUIRE_EXPOSE=False, multiplex server) and exposes the
GnrDaemon / SiteRegister method names and signatures gnrhost talks to. Registers keep
items as plain dicts, datachanges as ClientDataChange objects, and the item data store as
a plain dict (the real one is a Genropy Bag): see README.md for the differences.

Run: /usr/bin/python3 gnrdaemon.py --host 127.0.0.1 --port 0 --hmac KEY
Once it listens it prints "URI=<GnrDaemon uri>" and "PORT=<n>" on stdout.
"""

import argparse
import re
import sys
import threading
from datetime import datetime

import Pyro4

from gnr.core.gnrbag import Bag  # noqa: E402 (pickled by module path)
from gnr.web.gnrwebpage import ClientDataChange  # noqa: E402 (pickled by module path)

# Same configuration as gnrsiteregister/gnrdaemon: the Go client must cope with it.
Pyro4.config.SERIALIZER = "pickle"
Pyro4.config.SERIALIZERS_ACCEPTED = {"pickle", "serpent", "json", "marshal"}
Pyro4.config.METADATA = False
Pyro4.config.REQUIRE_EXPOSE = False
Pyro4.config.SERVERTYPE = "multiplex"  # a site register runs single-threaded

LOCK_EXPIRY_SECONDS = 10
REGISTER_NAMES = ("page", "connection", "user", "global")


class GnrDaemonException(Exception):
    """Raised for misuse, as the real daemon does."""


class Register(object):
    """One of the four registers: items by id, their data stores and locks."""

    def __init__(self, name):
        self.name = name
        self.items_by_id = {}
        self.data = {}
        self.locks = {}

    def add(self, item, data=None):
        item.setdefault("start_ts", datetime.now())
        item["register_name"] = self.name
        item["datachanges"] = []
        item["datachanges_idx"] = 0
        item["subscribed_paths"] = set()
        item.setdefault("last_user_ts", None)
        item.setdefault("last_rpc_ts", None)
        item.setdefault("last_refresh_ts", None)
        self.items_by_id[item["register_item_id"]] = item
        self.data[item["register_item_id"]] = data if isinstance(data, Bag) else Bag(data)
        return item

    # ---- methods reached through SiteRegister with register_name=... ----

    def get_item(self, register_item_id, include_data=False):
        item = self.items_by_id.get(register_item_id)
        if item is not None and include_data:
            item = dict(item)
            item["data"] = self.get_item_data(register_item_id)
        return item

    def get_item_data(self, register_item_id):
        # As in gnrsiteregister: a missing item gets a fresh Bag that nobody keeps.
        data = self.data.get(register_item_id)
        return Bag() if data is None else data

    def exists(self, register_item_id):
        return register_item_id in self.items_by_id

    def keys(self):
        return list(self.items_by_id.keys())

    def items(self, include_data=None):
        return [(k, self.get_item(k, include_data)) for k in self.keys()]

    def values(self, include_data=False):
        return [self.get_item(k, include_data) for k in self.keys()]

    def update_item(self, register_item_id, upddict=None):
        item = self.items_by_id.get(register_item_id)
        if item is None:
            return None
        item.update(upddict or {})
        return item

    def drop_item(self, register_item_id):
        self.data.pop(register_item_id, None)
        self.locks.pop(register_item_id, None)
        return self.items_by_id.pop(register_item_id, None)

    def lock_item(self, register_item_id, reason=None):
        now = datetime.now()
        locker = self.locks.get(register_item_id)
        if locker is None:
            self.locks[register_item_id] = {"reason": reason, "count": 1, "ts": now}
            return True
        if locker["reason"] == reason:
            locker["count"] += 1
            locker["ts"] = now
            return True
        if (now - locker["ts"]).total_seconds() > LOCK_EXPIRY_SECONDS:
            # As in gnrdaemon, an expired lock is removed but this caller still gets False
            # and takes it on its next retry.
            self.locks.pop(register_item_id, None)
        return False

    def unlock_item(self, register_item_id, reason=None):
        locker = self.locks.get(register_item_id)
        if locker is None:
            return None
        if locker["reason"] != reason:
            return False
        locker["count"] -= 1
        if not locker["count"]:
            self.locks.pop(register_item_id, None)
        return True

    def get_datachanges(self, register_item_id, reset=False):
        item = self.items_by_id.get(register_item_id)
        if item is None:
            return None
        changes = item["datachanges"]
        if reset:
            # As in gnrsiteregister: a reset also restarts the change index at 0.
            item["datachanges"] = []
            item["datachanges_idx"] = 0
        return changes

    def reset_datachanges(self, register_item_id):
        return self.update_item(register_item_id, {"datachanges": [], "datachanges_idx": 0})

    def set_datachange(self, register_item_id, path, value=None, attributes=None, fired=False,
                       reason=None, replace=False, delete=False):
        item = self.items_by_id.get(register_item_id)
        if item is None:
            return None
        item["datachanges_idx"] += 1
        change = ClientDataChange(path, value, attributes=attributes, fired=fired, reason=reason,
                                  change_idx=item["datachanges_idx"], delete=delete)
        if replace and change in item["datachanges"]:
            item["datachanges"].remove(change)
        item["datachanges"].append(change)
        return None

    def drop_datachanges(self, register_item_id, path):
        item = self.items_by_id.get(register_item_id)
        if item is None:
            return None
        item["datachanges"][:] = [c for c in item["datachanges"] if not c.path.startswith(path)]
        return None

    def subscribe_path(self, register_item_id, path):
        item = self.items_by_id.get(register_item_id)
        if item is None:
            raise GnrDaemonException("no item %r in register %s" % (register_item_id, self.name))
        item["subscribed_paths"].add(path)

    # ---- page register only ----

    def notifyDbEvents(self, dbeventsDict=None, origin_page_id=None, dbevent_reason=None):
        for table, dbevents in (dbeventsDict or {}).items():
            if not dbevents:
                continue
            table_code = table.replace(".", "_")
            for page_id, page in list(self.items_by_id.items()):
                if table in page.get("subscribed_tables", []):
                    self.set_datachange(page_id, "gnr.dbchanges.%s" % table_code, dbevents,
                                        attributes={"from_page_id": origin_page_id,
                                                    "dbevent_reason": dbevent_reason})

    def filter_subscribed_tables(self, table_list):
        tables = set()
        for page in self.items_by_id.values():
            tables.update(page.get("subscribed_tables", []))
        return list(tables.intersection(table_list))


class SiteRegister(object):
    """The per-site register object (gnrsiteregister.SiteRegister's surface)."""

    def __init__(self, sitename):
        self.sitename = sitename
        self.registers = {name: Register(name) for name in REGISTER_NAMES}
        self.registers["global"].add({"register_item_id": "*"})

    def __getattr__(self, name):
        # Calls not defined here go to the register named by the register_name keyword,
        # the way gnrdaemon forwards them. Private names must raise so that Pyro's and
        # pickle's attribute probing keeps working.
        if name.startswith("_"):
            raise AttributeError(name)

        def forward(*args, **kwargs):
            register_name = kwargs.pop("register_name", None)
            if register_name not in self.registers:
                raise GnrDaemonException("unknown register_name %r for %s" % (register_name, name))
            handler = getattr(self.registers[register_name], name, None)
            if handler is None or name.startswith("_"):
                raise AttributeError("register %s has no method %s" % (register_name, name))
            return handler(*args, **kwargs)
        return forward

    # ---- items ----

    def new_connection(self, connection_id, connection_name=None, user=None, user_id=None,
                       user_name=None, user_tags=None, user_ip=None, user_agent=None,
                       browser_name=None, avatar_extra=None, electron_static=None):
        assert not self.registers["connection"].exists(connection_id), \
            "SITEREGISTER ERROR: connection_id %s already registered" % connection_id
        if not self.registers["user"].exists(user):
            self.new_user(user, user_tags=user_tags, user_id=user_id, user_name=user_name,
                          avatar_extra=avatar_extra)
        return self.registers["connection"].add({
            "register_item_id": connection_id, "connection_name": connection_name,
            "user": user, "user_id": user_id, "user_name": user_name, "user_tags": user_tags,
            "user_ip": user_ip, "user_agent": user_agent, "browser_name": browser_name,
            "electron_static": electron_static})

    def new_page(self, page_id, pagename=None, connection_id=None, subscribed_tables=None,
                 user=None, user_ip=None, user_agent=None, relative_url=None, data=None):
        # As in gnrsiteregister, subscribed_tables is accepted and not passed on: a page
        # subscribes its tables afterwards, with subscribeTable.
        return self.registers["page"].add({
            "register_item_id": page_id, "pagename": pagename, "connection_id": connection_id,
            "subscribed_tables": [], "user": user,
            "user_ip": user_ip, "user_agent": user_agent, "relative_url": relative_url}, data)

    def new_user(self, user=None, user_tags=None, user_id=None, user_name=None, avatar_extra=None):
        return self.registers["user"].add({
            "register_item_id": user, "user": user, "user_id": user_id, "user_name": user_name,
            "user_tags": user_tags, "avatar_extra": avatar_extra})

    def drop_page(self, page_id, cascade=None):
        page = self.registers["page"].drop_item(page_id)
        if page and cascade and not self._connection_page_keys(page["connection_id"]):
            self.drop_connection(page["connection_id"], cascade=cascade)

    def drop_pages(self, connection_id):
        for page_id in self._connection_page_keys(connection_id):
            self.drop_page(page_id)

    def drop_connection(self, connection_id, cascade=None):
        self.drop_pages(connection_id)
        connection = self.registers["connection"].drop_item(connection_id)
        if connection and cascade and not self._user_connection_keys(connection["user"]):
            self.drop_user(connection["user"])

    def drop_connections(self, user):
        for connection_id in self._user_connection_keys(user):
            self.drop_connection(connection_id)

    def drop_user(self, user):
        self.drop_connections(user)
        self.registers["user"].drop_item(user)

    def _connection_page_keys(self, connection_id):
        return [k for k, v in self.registers["page"].items_by_id.items()
                if v["connection_id"] == connection_id]

    def _user_connection_keys(self, user):
        return [k for k, v in self.registers["connection"].items_by_id.items()
                if v["user"] == user]

    def page(self, page_id):
        return self.registers["page"].get_item(page_id)

    def connection(self, connection_id):
        return self.registers["connection"].get_item(connection_id)

    def user(self, user):
        return self.registers["user"].get_item(user)

    def pages(self, connection_id=None, user=None, index_name=None, filters=None, include_data=None):
        if index_name:
            return [p for p in self.registers["page"].values(include_data)
                    if index_name in p.get("subscribed_tables", [])]
        pages = self.registers["page"].values(include_data)
        if connection_id:
            pages = [p for p in pages if p["connection_id"] == connection_id]
        if user:
            pages = [p for p in pages if p["user"] == user]
        if not filters or filters == "*":
            return pages
        wanted = dict(f.split(":", 1) for f in filters.split(" AND "))

        def matches(page):
            for field, pattern in wanted.items():
                value = page.get(field)
                if isinstance(value, str) and re.match(pattern, value):
                    return True
                if value is not None and not isinstance(value, str) and value == pattern:
                    return True
            return False
        return [p for p in pages if matches(p)]

    def connections(self, user=None, include_data=None):
        conns = self.registers["connection"].values(include_data)
        return [c for c in conns if not user or c["user"] == user]

    def users(self, include_data=None):
        return self.registers["user"].values(include_data)

    def counters(self):
        return {"users": len(self.users()), "connections": len(self.connections()),
                "pages": len(self.pages())}

    def refresh(self, page_id, last_user_ts=None, last_rpc_ts=None, pageProfilers=None):
        now = datetime.now()
        page = self._refresh("page", page_id, last_user_ts, last_rpc_ts, now)
        if not page:
            return None
        connection = self._refresh("connection", page["connection_id"], last_user_ts, last_rpc_ts, now)
        if not connection:
            return None
        return self._refresh("user", connection["user"], last_user_ts, last_rpc_ts, now)

    def _refresh(self, register_name, item_id, last_user_ts, last_rpc_ts, now):
        item = self.registers[register_name].items_by_id.get(item_id)
        if item is None:
            return None
        for key, ts in (("last_user_ts", last_user_ts), ("last_rpc_ts", last_rpc_ts),
                        ("last_refresh_ts", now)):
            if ts is not None:
                item[key] = max(item[key], ts) if item.get(key) else ts
        return item

    def subscribeTable(self, page_id, table=None, subscribe=None, subscribeMode=None):
        page = self.registers["page"].items_by_id.get(page_id)
        if page is None:
            raise GnrDaemonException("no page %r" % page_id)
        tables = page["subscribed_tables"]
        if subscribe and table not in tables:
            tables.append(table)
        elif not subscribe and table in tables:
            tables.remove(table)

    def handle_ping(self, page_id=None, reason=None, _serverstore_changes=None, **kwargs):
        """Refresh the page and hand back (and reset) its pending datachanges."""
        if not self.registers["page"].exists(page_id):
            return False
        self.refresh(page_id, last_user_ts=kwargs.get("_lastUserEventTs"),
                     last_rpc_ts=kwargs.get("_lastRpc"))
        changes = self.registers["page"].get_datachanges(page_id, reset=True)
        return changes or []


class SiteRegisterServer(object):
    """The site daemon's control object (the real one can stop and dump the register)."""

    def __init__(self, register):
        self.register = register

    def ping(self, **kwargs):
        return "ping"


class RemoteStoreBagHandler(object):
    """The RemoteData object: Bag methods on one item's data store.

    Calls name the item with the keywords _siteregister_register_name and
    _siteregister_register_item_id (and optionally _pyrosubbag, a sub-path), as the real
    RemoteStoreBagHandler expects them.
    """

    def __init__(self, siteregister):
        self.siteregister = siteregister

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            register_name = kwargs.pop("_siteregister_register_name", None)
            item_id = kwargs.pop("_siteregister_register_item_id", None)
            subbag = kwargs.pop("_pyrosubbag", None)
            if register_name not in self.siteregister.registers:
                raise GnrDaemonException("unknown register_name %r" % register_name)
            store = self.siteregister.registers[register_name].get_item_data(item_id)
            if subbag:
                store = store.getItem(subbag)
            handler = getattr(store, name, None)
            if handler is None:
                raise AttributeError("PyroSubBag at %s has no attribute '%s'" % (subbag, name))
            return handler(*args, **kwargs)
        return call


class GnrDaemon(object):
    """The main daemon object: hands out one SiteRegister per site."""

    def __init__(self, daemon, host, hmac_key):
        self.daemon = daemon
        self.host = host
        self.hmac_key = hmac_key
        self.sites = {}
        self.site_daemons = []

    def ping(self, **kwargs):
        return "ping"  # what the real GnrDaemon.ping answers

    def getSite(self, domainIdentifier=None, create=True, storage_path=None, autorestore=False,
                sitename=None, **kwargs):
        """Return the site's dict (sitename, server_uri, register_uri, register_port).

        Like the real daemon, each site gets its own Pyro daemon on its own port, holding the
        objects SiteRegisterServer, SiteRegister and RemoteData. The real one forks a child
        process and answers {} until it reports back; this one starts the site daemon in a
        thread and answers at once (one process: killing the main daemon kills every site).
        """
        name = domainIdentifier or sitename
        site = self.sites.get(name)
        if site is None:
            if not create:
                return None
            site_daemon = Pyro4.Daemon(host=self.host, port=0)
            site_daemon._pyroHmacKey = self.hmac_key
            register = SiteRegister(name)
            register_uri = site_daemon.register(register, "SiteRegister")
            site_daemon.register(RemoteStoreBagHandler(register), "RemoteData")
            server_uri = site_daemon.register(SiteRegisterServer(register), "SiteRegisterServer")
            threading.Thread(target=site_daemon.requestLoop, name="sr_" + name, daemon=True).start()
            self.site_daemons.append(site_daemon)
            site = {"sitename": name, "server_uri": str(server_uri), "register_uri": str(register_uri),
                    "register_port": register_uri.port}
            self.sites[name] = site
        return dict(site)

    def siteRegisters(self, **kwargs):
        return [dict(site) for site in self.sites.values()]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hmac", default="supersecretkey")
    args = parser.parse_args(argv)

    daemon = Pyro4.Daemon(host=args.host, port=args.port)
    daemon._pyroHmacKey = args.hmac.encode("utf-8")
    uri = daemon.register(GnrDaemon(daemon, args.host, daemon._pyroHmacKey), "GnrDaemon")
    print("URI=%s" % uri)
    print("PORT=%d" % uri.port)
    sys.stdout.flush()
    daemon.requestLoop()


if __name__ == "__main__":
    main(sys.argv[1:])
