#!/usr/bin/python3
"""Smoke client: uses gnrdaemon.py the way Genropy does (Pyro4.Proxy, hmac key, pickle).

Usage: /usr/bin/python3 smoke.py PYRO:GnrDaemon@127.0.0.1:PORT [HMAC_KEY]
Exits 0 when every call answers as expected.
"""

import sys

import Pyro4

Pyro4.config.SERIALIZER = "pickle"
Pyro4.config.METADATA = False
Pyro4.config.REQUIRE_EXPOSE = False


def proxy(uri, key):
    p = Pyro4.Proxy(uri)
    p._pyroHmacKey = key.encode("utf-8")
    return p


def main(uri, key="supersecretkey"):
    with proxy(uri, key) as daemon:
        assert daemon.ping() == "ping"
        site = daemon.getSite("smoke", create=True)
    with proxy(site["register_uri"], key) as reg:
        reg.new_connection("conn1", user="alice", user_id="u1", user_name="Alice",
                           user_tags="admin", user_ip="127.0.0.1", user_agent="smoke")
        reg.new_page("page1", pagename="index", connection_id="conn1", user="alice",
                     relative_url="/index")
        reg.subscribeTable("page1", "todo.item", True)
        page = reg.get_item("page1", include_data=True, register_name="page")
        assert page["connection_id"] == "conn1", page
        assert page["subscribed_tables"] == ["todo.item"], page
        reg.notifyDbEvents({"todo.item": [{"pkey": "1", "dbevent": "I"}]},
                           origin_page_id="page1", dbevent_reason="smoke", register_name="page")
        changes = reg.get_datachanges("page1", reset=True, register_name="page")
        assert len(changes) == 1, changes
        assert changes[0].path == "gnr.dbchanges.todo_item", changes[0].path
        assert type(changes[0]).__name__ == "ClientDataChange"
        assert reg.get_datachanges("page1", register_name="page") == []
    print("smoke ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
