"""OSCQuery as the proposal defines it, served over real HTTP on 127.0.0.1 (unit level; the
CLI tests in test_cli_control.py drive it through ``livegan live`` with real clients)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from livegan.control.osc_namespace import namespace_specs
from livegan.control.query_server import QueryServer
from livegan.params.definitions import declare_actions, make_registry


def get(url: str, method: str = "GET") -> tuple[int, object, dict]:
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, None, dict(e.headers)


def methods(node: dict, out: dict) -> dict:
    for child in node.get("CONTENTS", {}).values():
        if "CONTENTS" in child:
            assert "TYPE" not in child and "VALUE" not in child  # containers only contain
            methods(child, out)
        else:
            out[child["FULL_PATH"]] = child
    return out


def test_tree_is_methods_and_containers() -> None:
    reg = make_registry()
    declare_actions(reg)
    reg.set("latent/speed", 2.5)
    with QueryServer(reg, osc=lambda: ("127.0.0.1", 9123), presets=lambda: ["drift", "pulse"]) as q:
        status, tree, headers = get(q.url)
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
        found = methods(tree, {})
        specs = namespace_specs(reg)
        assert {s.address for s in specs} <= set(found)
        for s in specs:
            node = found[s.address]
            assert node["DESCRIPTION"] == s.description
            if s.type == "trigger":
                assert node["ACCESS"] == 0 and "VALUE" not in node
                continue
            assert node["VALUE"] == [reg.get(s.name)]
            assert node["ACCESS"] == (1 if s.readonly else 3)
            if s.type == "float":
                assert node["TYPE"] == "f" and node["RANGE"] == [{"MIN": s.min, "MAX": s.max}]
                assert node["CLIPMODE"] == ["none"]
            if s.type == "enum":
                assert node["TYPE"] == "s" and node["RANGE"] == [{"VALS": list(s.choices)}]
        assert found["/livegan/norm/latent/speed"]["VALUE"] == [pytest.approx(2.5 / 4.0)]
        assert found["/livegan/preset/load"]["TYPE"] == "s"
        assert found["/livegan/preset/load"]["RANGE"] == [{"VALS": ["drift", "pulse"]}]
        assert [o["TYPE"] for o in found["/livegan/preset/load"]["OVERLOADS"]] == ["i"]
        assert found["/livegan/model/load"]["TYPE"] == "sf"
        assert [o["TYPE"] for o in found["/livegan/model/load"]["OVERLOADS"]] == ["s"]
        assert found["/livegan/latent/reseed"]["TYPE"] == "N"
        assert found["/livegan/out/bands"]["TYPE"] == "ffff" and found["/livegan/out/bands"]["ACCESS"] == 1
        assert found["/livegan/out/onset"]["ACCESS"] == 0 and "VALUE" not in found["/livegan/out/onset"]

        reg.set("latent/speed", 1.0)
        assert get(q.url + "livegan/latent/speed?VALUE")[:2] == (200, {"VALUE": [1.0]})
        assert get(q.url + "livegan/truncation")[1]["CONTENTS"].keys() == {"psi", "energy"}
        status, info, _ = get(q.url + "?HOST_INFO")
        assert info["OSC_PORT"] == 9123 and info["OSC_TRANSPORT"] == "UDP" and info["EXTENSIONS"]["LISTEN"]
        assert get(q.url + "livegan/nope")[0] == 404
        assert get(q.url + "livegan/latent/speed?BOGUS")[0] == 400
        assert get(q.url + "livegan/latent/reseed?VALUE")[0] == 204
        assert get(q.url + "livegan/latent?TYPE")[:2] == (200, {})  # a container has no type
        status, body, headers = get(q.url + "livegan/latent/speed", "HEAD")
        assert status == 200 and body is None and int(headers["Content-Length"]) > 0
        status, _, headers = get(q.url, "OPTIONS")
        assert status == 204 and "GET" in headers["Access-Control-Allow-Methods"]
        assert get(q.url, "POST")[0] in (400, 405)
