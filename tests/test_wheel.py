"""The wheel carries everything: built from the working tree, installed into a fresh
virtualenv (no site packages from anywhere else, no source tree on the path), `broker up
--demo` in an empty directory serves every page, and writes nothing inside the install."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
# Never part of a build: tools, caches and local data.
LEFT_OUT = (
    ".venv",
    ".git",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "test-results",
    "instance",
    ".pytest_cache",
    ".hypothesis",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder`, with its size and modification time."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def run(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the working tree (so no build files land in it)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source)
    (built,) = (work / "dist").glob("*.whl")
    return built


def test_the_wheel_holds_every_template_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    # Every template, in every folder, whoever adds it: templates/X -> broker/templates/X.
    templates = {
        f"broker/templates/{p.relative_to(ROOT / 'templates')}"
        for p in (ROOT / "templates").rglob("*")
        if p.is_file()
    }
    assert templates and templates <= names
    assert "broker/config.toml" in names
    for folder in (
        "broker/migrations/versions",
        "broker/demo_data",
        "broker/static",
        "matchers/data",
        "feeds/data",
    ):
        shipped = {
            f"{folder}/{p.relative_to(ROOT / folder)}"
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert shipped and shipped <= names, folder
    assert not any(name.startswith(("templates/", "instance/", "tests/")) for name in names)


@pytest.mark.slow
def test_an_installed_wheel_serves_the_demo_from_any_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    # Not compiled now, nor as it runs (PYTHONDONTWRITEBYTECODE): byte code is Python's
    # own business, and the check below is about what the broker writes.
    run(venv / "bin" / "pip", "install", "-q", "--no-compile", wheel, timeout=900)
    installed = files_under(venv)
    here = tmp_path / "anywhere"
    here.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "PYTHON"))}
    env |= {
        "PYTHONDONTWRITEBYTECODE": "1",
        # No network: the shipped sources' first harvests fail at once, as offline.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
        "BROKER_HTTP__RETRIES": "0",
    }
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import broker; print(broker.__file__)"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the installed broker, not the repository

    port = free_port()
    process = subprocess.Popen(
        [venv / "bin" / "broker", "up", "--demo", "--port", str(port)],
        cwd=here,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    serving = threading.Event()

    def read() -> None:
        for text in process.stdout:
            lines.append(text)
            if "Serving the broker" in text:
                serving.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert serving.wait(300), "".join(lines)
        printed = "".join(lines)
        assert f"Instance folder: {here / 'instance'}" in printed
        email, password = re.search(r"Demo login: (\S+) with password (\S+)", printed).groups()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as web:
            login = wait_for_page(web, "/login")
            assert "Demo data: real notices, with their dates moved" in login.text
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login.text)
            form = {"email": email, "password": password, "csrf_token": token.group(1)}
            assert web.post("/login", data=form).status_code == 302
            triage = web.get("/")
            assert triage.status_code == 200
            assert "Matched notices waiting for you" in triage.text
            assert web.get("/static/style.css").status_code == 200
            outbox = web.get("/outbox/")
            assert outbox.status_code == 200
            message = re.search(r'href="(/outbox/\d+)"', outbox.text).group(1)
            assert web.get(message).status_code == 200  # an e-mail, from templates/email
            assert web.get("/dashboard/").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(10)
        process.stdout.close()
    assert "Traceback" not in "".join(lines)
    # The data went to ./instance where it ran, and nothing was written in the install.
    assert (here / "instance" / "broker.sqlite3").is_file()
    assert (here / "instance" / "secret_key").is_file()
    assert files_under(venv) == installed


def wait_for_page(web: httpx.Client, path: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = web.get(path)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{path} never answered 200"
        time.sleep(0.2)
