"""Dependencies point one way, and this file says which.

- `feeds` (the harvesters) and `matchers` (the engine) are pure: no web, database or
  broker code, and neither imports the other.
- In `broker`, shared plumbing (the top-level modules, `models`, `web`) imports no
  feature; each feature (`broker/<feature>/`) imports another only along an arrow
  listed in ARROWS, and never that feature's pages (`views`) or commands (`cli`).
- A feature's services (every module but `views`, `cli` and `forms`) never read Flask's
  request state and never import `runtime` (the scheduler and its jobs), which sits
  above the features and composes them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BROKER = ROOT / "broker"

FEATURES = frozenset(
    {
        "notices",
        "harvest",
        "matching",
        "members",
        "triage",
        "outreach",
        "mail",
        "accounts",
        "dashboard",
        "bids",
        "network",
    }
)
# The one list of arrows between features: (from, to) means `from` may use `to`'s services.
ARROWS = frozenset(
    {
        ("harvest", "notices"),  # a harvest stores what it reads
        ("harvest", "matching"),  # `broker harvest` matches each page as it is stored
        ("notices", "matching"),  # a notice entered by hand is matched at once
        ("notices", "triage"),  # ...and logged on the notice page
        ("members", "matching"),  # a changed profile is re-matched
        ("triage", "matching"),  # adding a member by hand explains the fit
        ("triage", "outreach"),  # forwarding e-mails the members
        ("outreach", "members"),  # "Update my profile" saves it as the coordinator's form does
        ("outreach", "matching"),  # ...and re-matches
        ("outreach", "mail"),  # every e-mail goes through the outbox
        ("bids", "matching"),  # partner suggestions run the engine over the notice's lots
        ("bids", "triage"),  # starting a bid marks its notice
        ("bids", "outreach"),  # invitations and reminders are member e-mails with links
        ("bids", "mail"),  # ...through the outbox
        ("network", "notices"),  # a buyer's confirmed opportunity is stored as a notice
        ("network", "matching"),  # ...and matched at once
        ("network", "outreach"),  # buyers' e-mails are composed and signed as members' are
        ("network", "mail"),  # ...through the outbox
    }
)
# Module-level names of Flask's request state that services must not read.
REQUEST_STATE = {
    "flask": {"request", "session", "g", "current_app", "url_for"},
    "flask_login": {"current_user", "login_user", "logout_user"},
}
EDGES = ("views", "cli", "forms")


def _modules() -> list[tuple[Path, tuple[str, ...]]]:
    return [
        (path, path.relative_to(ROOT).with_suffix("").parts)
        for path in sorted(BROKER.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _imports(path: Path) -> list[tuple[str, set[str]]]:
    """Every `import x` and `from x import a, b` in a module, as (x, {a, b})."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, {a.name for a in node.names}))
        elif isinstance(node, ast.Import):
            found.extend((a.name, set()) for a in node.names)
    return found


def _targets(module: str, names: set[str]) -> list[tuple[str, ...]]:
    """The broker modules an import reaches: `from broker.x import views` reaches x.views."""
    parts = tuple(module.split("."))
    if parts[0] != "broker":
        return []
    return [(*parts, name) for name in names] or [parts]


def feature_of(parts: tuple[str, ...]) -> str | None:
    return parts[1] if len(parts) > 2 and parts[1] in FEATURES else None


def test_features_use_each_other_only_along_the_listed_arrows():
    wrong = []
    for path, parts in _modules():
        here = feature_of(parts)
        for module, names in _imports(path):
            for target in _targets(module, names):
                there = feature_of(target)
                if here and there and there != here and (here, there) not in ARROWS:
                    wrong.append(f"{'.'.join(parts)} imports {'.'.join(target)}")
    assert not wrong, "\n".join(wrong)


def test_the_arrows_have_no_cycle():
    graph: dict[str, set[str]] = {}
    for a, b in ARROWS:
        graph.setdefault(a, set()).add(b)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [a for a in sorted(FEATURES) if reaches(a, a, set())] == []


def test_no_feature_imports_another_feature_s_pages_or_commands():
    wrong = []
    for path, parts in _modules():
        here = feature_of(parts)
        if parts[1:] in (("__init__",), ("cli",)):
            continue  # create_app and the click root wire every feature's pages and commands in
        for module, names in _imports(path):
            for target in _targets(module, names):
                there = feature_of(target)
                if there and there != here and target[2] in ("views", "cli"):
                    wrong.append(f"{'.'.join(parts)} imports {'.'.join(target[:3])}")
    assert not wrong, "\n".join(wrong)


def test_plumbing_imports_no_feature_and_no_runtime():
    wrong = []
    for path, parts in _modules():
        # create_app and the click root are where features are wired in.
        if feature_of(parts) or parts[1] == "runtime" or parts[1:] in (("__init__",), ("cli",)):
            continue
        for module, names in _imports(path):
            for target in _targets(module, names):
                if feature_of(target) or (len(target) > 1 and target[1] == "runtime"):
                    wrong.append(f"{'.'.join(parts)} imports {'.'.join(target)}")
    assert not wrong, "\n".join(wrong)


def test_services_never_read_the_request_or_reach_up_into_runtime():
    wrong = []
    for path, parts in _modules():
        if not feature_of(parts) or parts[-1] in EDGES:
            continue
        for module, names in _imports(path):
            if names & REQUEST_STATE.get(module, set()):
                wrong.append(f"{'.'.join(parts)} imports {module}: {names & REQUEST_STATE[module]}")
            if module.startswith("broker.runtime"):
                wrong.append(f"{'.'.join(parts)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_every_feature_package_is_listed():
    packages = {
        p.name for p in BROKER.iterdir() if (p / "__init__.py").exists() and p.name != "__pycache__"
    }
    assert packages - FEATURES == {"models", "web", "runtime"}


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
