#!/usr/bin/python3
"""Times get_item through Pyro4.Proxy, the same call BenchmarkGetItem makes from Go.

Usage: /usr/bin/python3 bench_proxy.py PYRO:GnrDaemon@127.0.0.1:PORT [HMAC_KEY] [N]
Prints "get_item: N calls, X us/call".
"""

import sys
import time

import Pyro4

Pyro4.config.SERIALIZER = "pickle"
Pyro4.config.METADATA = False
Pyro4.config.REQUIRE_EXPOSE = False


def main(uri, key="supersecretkey", n="20000"):
    n = int(n)
    with Pyro4.Proxy(uri) as daemon:
        daemon._pyroHmacKey = key.encode("utf-8")
        site = daemon.getSite("bench", create=True)
    with Pyro4.Proxy(site["register_uri"]) as reg:
        reg._pyroHmacKey = key.encode("utf-8")
        if not reg.exists("c", register_name="connection"):
            reg.new_connection("c", user="u")
            reg.new_page("p", connection_id="c", user="u", pagename="index")
        for _ in range(200):  # warm up
            reg.get_item("p", register_name="page")
        start = time.perf_counter()
        for _ in range(n):
            reg.get_item("p", register_name="page")
        elapsed = time.perf_counter() - start
    print("get_item: %d calls, %.1f us/call" % (n, elapsed / n * 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
