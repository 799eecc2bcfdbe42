"""docs/osc.md is generated from the registry and must match it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_osc_docs_are_up_to_date() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_osc_docs.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_docs_list_every_address() -> None:
    from livegan.control.osc_namespace import namespace_specs
    from livegan.params.definitions import make_registry

    text = (ROOT / "docs" / "osc.md").read_text()
    missing = [s.address for s in namespace_specs(make_registry()) if f"| `{s.address}` |" not in text]
    assert not missing
