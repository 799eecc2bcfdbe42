"""Run inside a network namespace with only ``lo`` (test_cli_control.py starts it with ``unshare -n``):
``livegan live --oscquery-announce``, then python-oscquery's zeroconf browser finds it and reads it.
Prints one JSON line: what the browser found."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cli_live import LiveShow, wait_for
from pythonoscquery.osc_query_browser import OSCQueryBrowser
from pythonoscquery.osc_query_client import OSCQueryClient

song, port = Path(sys.argv[1]), int(sys.argv[2])
live = LiveShow(song, "--no-osc", "--oscquery-port", str(port), "--oscquery-announce")
found: dict = {}
try:
    live.wait_http(port)
    browser = OSCQueryBrowser()
    try:
        services = wait_for(browser.get_discovered_oscquery, 30, 0.2)
        if services:
            client = OSCQueryClient(services[0])
            found = {"name": services[0].name, "port": services[0].port,
                     "host": client.get_host_info().name, "speed": client.query_node("/livegan/latent/speed").value}
    finally:
        browser.zc.close()
finally:
    code = live.stop()
print(json.dumps({"found": found, "exit": code}))
