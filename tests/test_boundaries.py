"""Dependencies point one way: broker -> feeds and broker -> matchers, never back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("feeds", {"flask", "sqlalchemy", "broker", "matchers"}),
        ("matchers", {"flask", "sqlalchemy", "broker", "feeds"}),
    ],
)
def test_pure_packages_import_no_web_database_or_broker_code(package, forbidden):
    modules = sorted(
        f"{package}." + ".".join(p.relative_to(ROOT / package).with_suffix("").parts)
        for p in (ROOT / package).rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}];"
        "top = {m.split('.')[0] for m in sys.modules};"
        f"bad = {forbidden!r} & top; assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
