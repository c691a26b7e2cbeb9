"""The README's commands, from a fresh clone: `./dev run` starts a working bot on the embedded default and
on PostgreSQL + Redis; the compose file parses; the lock file pins what pyproject.toml asks for."""

from __future__ import annotations

import ast
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_clone(tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True, timeout=120)
    # Uncommitted work of this checkout is what is being tested: lay it over the clone.
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for rel in tracked:
        src, dst = ROOT / rel, target / rel
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
            dst.chmod(src.stat().st_mode)
    return target


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _start(clone: Path, env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        ["./dev", "run", "--port", str(port)],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_healthy(process: subprocess.Popen, port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("run exited early:\n" + process.stdout.read())
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the server did not answer /healthz in time")


def _stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    return output


def _base_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        SUFRAH_VENV=str(Path(sys.executable).parent.parent),
        SUFRAH_VAR_DIR=str(tmp_path / "var"),
        PYTHONUNBUFFERED="1",
        DEMO_STAFF_PASSWORD="demo-pass-123",
    )
    return env


@pytest.mark.timeout(300)
def test_run_from_a_fresh_clone_on_the_embedded_default(tmp_path):
    clone, port = _fresh_clone(tmp_path), _free_port()
    process = _start(clone, _base_env(tmp_path), port)
    try:
        _wait_healthy(process, port)
        status, login_page = _get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200 and "Sufrah back office" in login_page
        css = re.search(r'href="(/static/admin/css/[^"]+\.css)"', login_page).group(1)
        assert _get(f"http://127.0.0.1:{port}{css}")[0] == 200  # admin styles are served with DEBUG off
        assert _get(f"http://127.0.0.1:{port}/no/such/page")[0] == 404
        _chat_reaches_the_dashboard_live(clone, _base_env(tmp_path), port)
    finally:
        output = _stop(process)
    assert "Embedded mode" in output and "in-memory layer" in output
    assert "Staff login: demo / demo-pass-123" in output
    assert "Created demo restaurant 'sufrah-demo'" in output
    assert (tmp_path / "var" / "sufrah.sqlite3").exists()


def _chat_reaches_the_dashboard_live(clone: Path, env: dict, port: int) -> None:
    """A dashboard socket on the running server sees a simulator chat posted to that server, and the
    simulator gets the bot's reply (embedded: all in the server process; with Redis: through the worker)."""
    import json

    from websockets.sync.client import connect

    login = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/token/",
        data=json.dumps({"username": "demo", "password": "demo-pass-123"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(login, timeout=10) as response:  # loopback only
        access = json.loads(response.read())["access"]
    with connect(
        f"ws://127.0.0.1:{port}/ws/events/",
        subprotocols=["sufrah.jwt", access],
        origin=f"http://127.0.0.1:{port}",
        open_timeout=10,
    ) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "subscribed"
        chat = subprocess.run(
            [
                str(Path(sys.executable)),
                "manage.py",
                "simulate",
                "--restaurant",
                "sufrah-demo",
                "--lang",
                "en",
                "--script",
                "-",
                "--server",
                f"http://127.0.0.1:{port}",
            ],
            cwd=clone,
            env=env,
            input="hello\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert chat.returncode == 0, chat.stderr
        assert "1. Order" in chat.stdout
        types = []
        deadline = time.monotonic() + 10
        while "message.received" not in types and time.monotonic() < deadline:
            types.append(json.loads(socket.recv(timeout=10))["type"])
        assert "message.received" in types


@pytest.mark.timeout(300)
def test_run_on_postgres_and_redis_starts_worker_and_beat(tmp_path):
    database = f"sufrah_quickstart_{uuid.uuid4().hex[:8]}"
    # CREATE DATABASE from the server's maintenance database, whatever database the suite itself uses.
    admin_url = (
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0] + "/postgres"
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    clone, port = _fresh_clone(tmp_path), _free_port()
    env = _base_env(tmp_path)
    env.update(
        DATABASE_URL=admin_url.rsplit("/", 1)[0] + "/" + database,
        # The suite's own Redis (./dev test's default when unset): parallel checkouts each configure their own.
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        SECRET_KEY="quickstart-test-secret-key",
    )
    process = _start(clone, env, port)
    try:
        _wait_healthy(process, port)
        deadline = time.monotonic() + 60
        children = ""
        while time.monotonic() < deadline and not ("-Q outbound" in children and "beat" in children):
            # `./dev run` execs python, so the pid is manage.py's own; the Celery processes are its children.
            children = subprocess.run(
                ["ps", "-ww", "-o", "args=", "--ppid", str(process.pid)], capture_output=True, text=True
            ).stdout
            time.sleep(1)
        # The production layout: the web server, one worker per pool (inbound apart from outbound), beat.
        assert "uvicorn sufrahbot.asgi:application" in children
        assert "worker -Q inbound,default,scheduled" in children and "worker -Q outbound" in children
        assert "celery -A sufrahbot --quiet beat" in children
        _chat_reaches_the_dashboard_live(clone, env, port)
    finally:
        output = _stop(process)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    assert "Embedded mode" not in output
    assert "a Celery worker per pool" in output and "all processes stopped" in output


def test_docker_compose_runs_the_production_layout_from_a_fresh_clone():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"web", "worker-inbound", "worker-outbound", "beat", "postgres", "redis"}
    for name in ("web", "worker-inbound", "worker-outbound", "beat"):
        assert f"manage.py serve {name}" in services[name]["command"]  # the same commands `./dev run` runs
        # No .env in a fresh clone: it is optional, and every variable the app needs has a default.
        assert services[name]["env_file"] == [{"path": ".env", "required": False}]
        assert "${SECRET_KEY:-" in (ROOT / "docker-compose.yml").read_text()
    for name in ("web", "worker-inbound", "worker-outbound"):
        assert services[name]["healthcheck"]["test"][-2:] == [name, "--check"]
    assert services["web"]["ports"] == ["8000:8000"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER sufrah$", dockerfile, re.M)  # not root
    # Runtime dependencies only: the runtime lock, never the dev one (pytest, schemathesis, playwright...).
    assert re.search(r"^RUN pip install --no-cache-dir -r requirements.lock$", dockerfile, re.M)
    instructions = "\n".join(line for line in dockerfile.splitlines() if not line.startswith("#"))
    assert "requirements-dev.lock" not in instructions and "pyproject.toml" not in instructions


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.sub(r"\[.*\]", "", name)).lower()


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_norm(name)] = version.strip()
    return pins


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution these requirements pull in, read from the installed packages' metadata."""
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    environment, seen = default_environment(), set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        key = (_norm(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        for raw in metadata.distribution(requirement.name).requires or []:
            sub = Requirement(raw)
            extras = requirement.extras or {""}
            if not sub.marker or any(sub.marker.evaluate({**environment, "extra": e}) for e in extras):
                todo.append(sub)
    return {name for name, _ in seen}


def test_the_runtime_lock_pins_the_runtime_and_the_dev_lock_adds_only_the_dev_packages():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert (ROOT / "requirements-dev.lock").read_text().splitlines().count("-r requirements.lock") == 1
    for requirement in project["dependencies"]:
        name, version = requirement.split("==")
        assert runtime.get(_norm(name)) == version, requirement
    for requirement in project["optional-dependencies"]["dev"]:
        name, version = requirement.split("==")
        assert {**runtime, **dev}.get(_norm(name)) == version, requirement  # PyYAML: the runtime needs it too
    # Each package in the lock its closure puts it in: a test tool added to requirements.lock would ship in
    # the image, a runtime package in requirements-dev.lock would be missing there.
    runtime_closure = _closure(project["dependencies"])
    dev_closure = _closure(project["dependencies"] + project["optional-dependencies"]["dev"]) - runtime_closure
    assert set(runtime) == runtime_closure
    assert set(dev) == dev_closure
    assert not set(runtime) & set(dev)


ENV_READERS = {"get", "getenv", "pop", "env_bool", "env_list"}  # os.environ.get, os.getenv, settings' helpers


def _environment_reads(path: Path) -> tuple[set[str], list[str]]:
    """The variable names a module reads from the environment, and the reads whose name is not a literal."""
    names: set[str] = set()
    dynamic: list[str] = []
    tree = ast.parse(path.read_text(), filename=str(path))

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    # The helpers themselves take the name as an argument; every call of theirs is checked instead.
    helpers = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name in ENV_READERS]
    inside_helpers = {id(n) for helper in helpers for n in ast.walk(helper)}
    for node in ast.walk(tree):
        if id(node) in inside_helpers:
            continue
        key = None
        if isinstance(node, ast.Call):
            func = node.func
            reader = (
                isinstance(func, ast.Attribute)
                and func.attr in ENV_READERS
                and (is_environ(func.value) or (isinstance(func.value, ast.Name) and func.value.id == "os"))
            ) or (isinstance(func, ast.Name) and func.id in ENV_READERS)
            if reader and node.args:
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and is_environ(node.value) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
            key = node.left
        if key is None:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
        else:
            dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return names, dynamic


def test_every_environment_variable_the_code_reads_is_documented():
    # Every module but the tests: settings, commands, bench scripts (`setdefault` writes, it is not read here).
    sources = [
        ROOT / rel
        for rel in subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True).stdout.split()
        if not rel.startswith("tests/") and "/migrations/" not in rel
    ]
    read: dict[str, str] = {}
    dynamic: list[str] = []
    for path in sources:
        names, unnamed = _environment_reads(path)
        read.update({name: str(path.relative_to(ROOT)) for name in names})
        dynamic += unnamed
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        documented |= set(re.findall(r"`\$?([A-Z][A-Z0-9_]+)[`=]", doc.read_text()))

    assert {"DATABASE_URL", "SECRET_KEY", "DEMO_STAFF_PASSWORD", "PROMETHEUS_MULTIPROC_DIR"} <= set(read)
    assert dynamic == [], "read the environment by a literal name, so it can be checked and documented"
    assert {name: where for name, where in read.items() if name not in documented} == {}
