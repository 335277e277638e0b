"""``bash scripts/run.sh``: the README's one command lands a person in JupyterLab.

The stamp tests run a copy of the script against a stand-in ``.venv`` whose ``python``
and ``jupyter`` only record how they were called, so they show what the script decides
(install or not, which options JupyterLab gets) without installing anything. The last
test starts the real thing from this checkout: it prints a ``/lab?token=`` address,
that page lists the MUSCode lab extension, and MUSCode's API answers under it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT

# Generous: a first start installs into .venv, and the machine may be busy.
START_TIMEOUT = 600.0

RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "{calls}"
[ -z "$FAIL_PIP" ] || [ "$2" != pip ] || exit 3
"""


def _copy_checkout(tmp_path: Path) -> Path:
    """The files run.sh reads, plus a .venv whose commands record their calls."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "muscode_ext").mkdir()
    shutil.copy(ROOT / "scripts" / "run.sh", repo / "scripts" / "run.sh")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    shutil.copy(ROOT / "muscode_ext" / "_version.py", repo / "muscode_ext" / "_version.py")
    bindir = repo / ".venv" / "bin"
    bindir.mkdir(parents=True)
    # bwrap and php "present", so the script never reaches for apt-get here.
    tools = tmp_path / "tools"
    tools.mkdir()
    for name, where in (("python", bindir), ("jupyter", bindir), ("bwrap", tools), ("php", tools)):
        script = where / name
        script.write_text(RECORDER.format(calls=tmp_path / "calls"))
        script.chmod(0o755)
    return repo


def _run(tmp_path: Path, repo: Path, *args: str, fail_pip: bool = False) -> tuple[int, str, str]:
    """(exit status, output, the calls the .venv commands received)."""
    calls = tmp_path / "calls"
    calls.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{tmp_path / 'tools'}:{os.environ['PATH']}"}
    env.pop("FAIL_PIP", None)
    if fail_pip:
        env["FAIL_PIP"] = "1"
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "run.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr, calls.read_text() if calls.exists() else ""


def test_the_first_start_installs_and_a_second_start_does_not(tmp_path: Path) -> None:
    repo = _copy_checkout(tmp_path)

    status, out, calls = _run(tmp_path, repo, "--port", "8890", "--no-browser")
    assert status == 0, out
    assert "python -m pip install -q -e .[lab]" in calls
    assert (repo / ".venv" / "muscode-run.stamp").exists()

    status, out, calls = _run(tmp_path, repo, "--port", "8890", "--no-browser")
    assert status == 0, out
    assert "up to date" in out
    assert "pip" not in calls
    jupyter = [line for line in calls.splitlines() if line.startswith("jupyter ")]
    assert len(jupyter) == 1, calls
    argv = jupyter[0].split()
    assert argv[1] == "lab"
    # Local only unless told otherwise; the person's own options are passed on as given.
    assert "--ServerApp.ip=127.0.0.1" in argv
    assert argv[-3:] == ["--port", "8890", "--no-browser"]
    assert ("--allow-root" in argv) == (os.geteuid() == 0)


def test_an_address_of_ones_own_replaces_the_local_default(tmp_path: Path) -> None:
    # Jupyter refuses an option given twice, so the default must step aside.
    repo = _copy_checkout(tmp_path)
    for given in (["--ip", "0.0.0.0"], ["--ServerApp.ip=0.0.0.0"]):
        status, out, calls = _run(tmp_path, repo, *given)
        assert status == 0, out
        argv = next(line for line in calls.splitlines() if line.startswith("jupyter ")).split()
        assert not any(a.startswith("--ServerApp.ip=127") for a in argv), argv
        assert argv[-len(given) :] == given


def test_a_changed_pyproject_installs_again(tmp_path: Path) -> None:
    repo = _copy_checkout(tmp_path)
    assert _run(tmp_path, repo)[0] == 0
    with (repo / "pyproject.toml").open("a") as f:
        f.write("\n# a new dependency\n")
    status, out, calls = _run(tmp_path, repo)
    assert status == 0, out
    assert "pip install" in calls
    assert "up to date" not in out


def test_a_failed_install_leaves_no_stamp_and_starts_nothing(tmp_path: Path) -> None:
    repo = _copy_checkout(tmp_path)
    status, out, calls = _run(tmp_path, repo, fail_pip=True)
    assert status != 0
    assert not (repo / ".venv" / "muscode-run.stamp").exists()
    assert "jupyter " not in calls
    # The next start tries the install again instead of starting a broken .venv.
    status, out, calls = _run(tmp_path, repo)
    assert status == 0, out
    assert "pip install" in calls


# -- the real start ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Output:
    """Collects a process's output lines in a thread; ``wait_for`` waits on a pattern."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    found = re.search(pattern, line)
                    if found:
                        return found
                if self._process.poll() is not None:
                    pytest.fail(f"run.sh exited ({self._process.returncode}):\n{self.text}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"run.sh printed no {pattern!r}:\n{self.text}")
                self._changed.wait(min(left, 1.0))

    def check_running(self) -> None:
        if self._process.poll() is not None:
            pytest.fail(f"run.sh exited ({self._process.returncode}):\n{self.text}")

    @property
    def text(self) -> str:
        return "".join(self.lines)[-6000:]


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[str, Output]]:
    """``bash scripts/run.sh --port N --no-browser`` from this checkout: the lab URL it
    prints (``http://127.0.0.1:N/lab?token=...``), and its output."""
    port = _free_port()
    env = {
        **os.environ,
        # A data directory of its own: the SQLite database and secrets land in it.
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "MUSCODE_SERVICE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "run.sh"), "--port", str(port), "--no-browser"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process)
    try:
        found = output.wait_for(rf"(http://127\.0\.0\.1:{port}/lab\?token=\w+)", START_TIMEOUT)
        yield found.group(1), output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.mark.timeout(START_TIMEOUT + 120)
def test_run_sh_opens_jupyterlab_with_muscode(started: tuple[str, Output]) -> None:
    url, output = started
    # Jupyter prints the address just before its loop starts serving it.
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            response = urllib.request.urlopen(url, timeout=60)
            break
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                pytest.fail(f"{url}: {e}\n{output.text}")
            output.check_running()
            time.sleep(0.5)
    with response:
        assert response.status == 200
        page = response.read().decode()
    config = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert config, page[:2000]
    extensions = json.loads(config.group(1))["federated_extensions"]
    assert "muscode-jupyterlab" in {e["name"] for e in extensions}

    base, token = url.split("/lab?token=")
    request = urllib.request.Request(
        f"{base}/api/muscode/v1/me", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        me = json.loads(response.read())
    # The person who ran it is MUSCode's admin on the embedded default.
    assert me["admin"] is True, me
    with urllib.request.urlopen(f"{base}/api/muscode/v1/health", timeout=60) as response:
        health = json.loads(response.read())
    assert health["checks"]["database"] == "ok", health
