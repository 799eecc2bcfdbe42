"""OSCQuery over real HTTP on 127.0.0.1: the JSON tree matches the registry."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from livegan.control.oscquery import OscQueryServer
from livegan.control.osc_namespace import namespace_specs
from livegan.params.definitions import make_registry


def get(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read()
            return r.status, json.loads(body) if body else None
    except urllib.error.HTTPError as e:
        return e.code, None


def leaves(node: dict, out: dict) -> dict:
    for child in node.get("CONTENTS", {}).values():
        if "TYPE" in child and not child["FULL_PATH"].endswith("/norm"):
            out[child["FULL_PATH"]] = child
        leaves(child, out)
    return out


def test_tree_matches_registry() -> None:
    reg = make_registry()
    reg.set("latent/speed", 2.5)
    with OscQueryServer(reg, osc_port=9123) as q:
        assert q.host == "127.0.0.1"
        status, tree = get(q.url + "/")
        assert status == 200
        found = leaves(tree, {})
        specs = namespace_specs(reg)
        assert set(found) == {s.address for s in specs}  # every parameter and action, nothing else
        values = reg.peek().values
        for s in specs:
            node = found[s.address]
            assert node["DESCRIPTION"] == s.description
            if s.type == "trigger":
                assert node["ACCESS"] == 2 and "VALUE" not in node
                continue
            assert node["VALUE"] == [values[s.name]]
            if s.type == "float":
                assert node["TYPE"] == "f" and node["RANGE"] == [{"MIN": s.min, "MAX": s.max}]
            if s.type == "enum":
                assert node["RANGE"] == [{"VALS": list(s.choices)}]
        assert found["/livegan/latent/speed"]["VALUE"] == [2.5]
        assert found["/livegan/latent/speed"]["CONTENTS"]["norm"]["VALUE"] == [pytest.approx(2.5 / 4.0)]

        # Single nodes, attributes, host info, and what is not there.
        reg.set("latent/speed", 1.0)
        assert get(q.url + "/livegan/latent/speed?VALUE") == (200, {"VALUE": [1.0]})
        status, node = get(q.url + "/livegan/truncation")
        assert status == 200 and set(node["CONTENTS"]) == {"psi", "energy"}
        status, info = get(q.url + "/?HOST_INFO")
        assert status == 200 and info["OSC_PORT"] == 9123 and info["OSC_TRANSPORT"] == "UDP"
        assert get(q.url + "/livegan/nope")[0] == 404
        assert get(q.url + "/livegan/latent/speed?BOGUS")[0] == 400
        assert get(q.url + "/livegan/latent/reseed?VALUE")[0] == 204
