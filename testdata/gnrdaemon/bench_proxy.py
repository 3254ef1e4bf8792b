#!/usr/bin/python3
"""Times get_item through Pyro4.Proxy, the same call BenchmarkGetItem makes from Go.

Usage: /usr/bin/python3 bench_proxy.py PYRO:GnrDaemon@127.0.0.1:PORT [HMAC_KEY] [N] [SITE PAGE_ID]
Prints "get_item: N calls, X us/call, Y us cpu/call" (cpu: this process's user+system
time, the client's own cost; the daemon's is not in it).

With SITE and PAGE_ID it reads that existing page (bench/registry-pyro.sh passes the page
Go's BenchmarkGetItem seeded, so both clients decode the same item); without, it creates
a page "p" on site "bench".
"""

import sys
import time

import Pyro4

Pyro4.config.SERIALIZER = "pickle"
Pyro4.config.METADATA = False
Pyro4.config.REQUIRE_EXPOSE = False


def main(uri, key="supersecretkey", n="20000", site_name="bench", page=None):
    n = int(n)
    with Pyro4.Proxy(uri) as daemon:
        daemon._pyroHmacKey = key.encode("utf-8")
        site = daemon.getSite(site_name, create=True)
    with Pyro4.Proxy(site["register_uri"]) as reg:
        reg._pyroHmacKey = key.encode("utf-8")
        if page is None:
            page = "p"
            if not reg.exists("c", register_name="connection"):
                reg.new_connection("c", user="u")
                reg.new_page("p", connection_id="c", user="u", pagename="index")
        elif reg.get_item(page, register_name="page") is None:
            print("no page %r on site %r" % (page, site_name), file=sys.stderr)
            return 1
        for _ in range(200):  # warm up
            reg.get_item(page, register_name="page")
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(n):
            reg.get_item(page, register_name="page")
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print("get_item: %d calls, %.1f us/call, %.1f us cpu/call" % (n, elapsed / n * 1e6, cpu / n * 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
