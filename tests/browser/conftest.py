"""Browser tests of the MUSCode lab extension: a real ``jupyter lab`` with MUSCode,
driven by Playwright in Debian's headless Chromium.

Run them in their own pytest process (Playwright's sync API and pytest-jupyter's
event loop do not mix)::

    pytest tests/browser -p no:cacheprovider

Each session starts ``jupyter lab`` on a free 127.0.0.1 port with a token, fresh
Jupyter config/data/runtime dirs and a fresh SQLite database, and the built extension
(``muscode_ext/labextension``, made by ``scripts/build-labextension.sh``) linked into
that data dir. With ``CI=true`` a missing Chromium or a missing build fails instead of
skipping. Screenshots land in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABEXTENSION = ROOT / "muscode_ext" / "labextension"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("MUSCODE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI") == "true"
# Debian's Chromium as root in a container: no sandbox, no GPU, nothing fetched.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The test server's cap on a run's source (bytes).
SOURCE_CAP = 8192
#: A language the test server cannot run (its version probe points nowhere).
UNAVAILABLE_LANGUAGE = "php"
#: What a student's bearer token may do (the embedded user is an admin; students are not).
STUDENT_SCOPES = ("execute", "projects", "classes:read")
#: How long an ``expect`` retries before failing (ms).
EXPECT_TIMEOUT_MS = 15_000


def need(what: str, why: str) -> None:
    """Skip locally, fail in CI."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the browser tests must run)")
    pytest.skip(message)


def require_playwright() -> None:
    """Skip a test module without Playwright (with CI=true: fail its collection)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if IN_CI:
            raise
        pytest.skip(
            "Playwright is not installed: pip install playwright (the browser comes from "
            "Debian: apt-get install chromium)",
            allow_module_level=True,
        )


# pytest-jupyter (loaded by tests/conftest.py) makes a fresh asyncio loop around
# every test; Playwright's sync API runs its own. These two no-op overrides keep the
# browser tests out of pytest-jupyter's loop handling.
@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    yield None


# -- the server --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class LabServer:
    """A running ``jupyter lab`` with MUSCode, and a small client of its MUSCode API."""

    url: str
    token: str
    root_dir: Path
    log_path: Path
    jwt_secret: str = ""
    paths: set[str] = field(default_factory=set)

    def bearer(self, name: str, scopes: tuple[str, ...] = STUDENT_SCOPES) -> str:
        """A MUSCode bearer token for ``name`` (not an admin), as an LMS would mint it."""
        import jwt

        now = int(time.time())
        claims = {"sub": name, "scopes": list(scopes), "iat": now, "exp": now + 3600}
        return str(jwt.encode(claims, self.jwt_secret, algorithm="HS256"))

    def api_as(self, name: str, method: str, path: str, body: Any = None) -> Reply:
        """Call the MUSCode API as ``name`` with a bearer token."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + "api/muscode/v1/" + path.lstrip("/"), data=data, method=method
        )
        req.add_header("Authorization", f"Bearer {self.bearer(name)}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw, status = resp.read(), resp.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        text = raw.decode() if raw else ""
        try:
            parsed: Any = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return Reply(status, parsed)

    def request(self, method: str, path: str, body: Any = None) -> Reply:
        """Call ``{url}{path}`` with the token; JSON in and out."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path.lstrip("/"), data=data, method=method)
        req.add_header("Authorization", f"token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw = e.read()
            status = e.code
        text = raw.decode() if raw else ""
        try:
            parsed: Any = json.loads(text) if text else None
        except json.JSONDecodeError:
            parsed = text
        return Reply(status, parsed)

    def api(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        reply = self.request(method, "api/muscode/v1/" + path.lstrip("/"), body)
        if expect is not None:
            assert reply.status == expect, (method, path, reply.status, reply.body)
        return reply.body

    def has(self, *paths: str) -> bool:
        """Whether the server's OpenAPI document lists every one of ``paths``."""
        return all(p in self.paths for p in paths)

    def project(self, name: str) -> dict[str, Any]:
        projects = self.api("GET", "projects", expect=200)
        return next(p for p in projects if p["name"] == name)

    def file(self, project: str, path: str) -> dict[str, Any]:
        p = self.project(project)
        files = self.api("GET", f"projects/{p['id']}/files", expect=200)
        meta = next(f for f in files if f["path"] == path)
        return self.api("GET", f"projects/{p['id']}/files/{meta['id']}", expect=200)


def _openapi_paths(text: str) -> set[str]:
    """Top-level keys of ``paths:`` in the served OpenAPI YAML."""
    import yaml

    doc = yaml.safe_load(text)
    return set((doc or {}).get("paths", {}))


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    package = LABEXTENSION / "package.json"
    if not package.exists():
        need("the built lab extension", f"{package} is missing: run scripts/build-labextension.sh")
    name = json.loads(package.read_text())["name"]
    base = tmp_path_factory.mktemp("lab")
    dirs = {k: base / k for k in ("config", "data", "runtime", "root", "settings")}
    for d in dirs.values():
        d.mkdir()
    # What `jupyter labextension develop` does, in this server's own data dir.
    (dirs["data"] / "labextensions").mkdir()
    (dirs["data"] / "labextensions" / name).symlink_to(LABEXTENSION, target_is_directory=True)
    # No news or update toasts over the screenshots.
    (dirs["settings"] / "overrides.json").write_text(
        json.dumps(
            {
                "@jupyterlab/apputils-extension:notification": {
                    "fetchNews": "false",
                    "checkForUpdates": False,
                }
            }
        )
    )
    token = secrets.token_hex(16)
    jwt_secret = secrets.token_hex(32)
    port = _free_port()
    config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "token": token,
            "root_dir": str(dirs["root"]),
            "allow_root": True,
            "jpserver_extensions": {"muscode_ext": True},
        },
        # window.jupyterapp: a test can run a command with arguments no menu gives
        "LabApp": {"app_settings_dir": str(dirs["settings"]), "expose_app_in_browser": True},
        "MuscodeApp": {
            "db_url": f"sqlite:///{base / 'muscode.sqlite'}",
            "embedded_user": "student",
            # the tests mint bearer tokens for users who are not admins
            "jwt_secret": jwt_secret,
            # small, so that a test can pass it with a short program
            "max_source_size": SOURCE_CAP,
            "languages": {UNAVAILABLE_LANGUAGE: {"version": ["/nonexistent/muscode-test"]}},
        },
    }
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_PLATFORM_DIRS": "0",
        # In a virtualenv Jupyter looks in the environment's share/jupyter before the
        # user's data dir: a copy of the extension installed with the package there
        # would hide the build under test.
        "JUPYTER_PREFER_ENV_PATH": "0",
    }
    for var in ("MUSCODE_DB_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX"):
        env.pop(var, None)
    log_path = base / "lab.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser"],
        env=env,
        cwd=dirs["root"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LabServer(f"http://127.0.0.1:{port}/", token, dirs["root"], log_path, jwt_secret)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if server.request("GET", "api/muscode/v1/health").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer in 90 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        # Ready means the language probe is done: /languages waits for it, and the
        # panel's first view waits for /languages (seconds on a busy machine).
        languages = server.request("GET", "api/muscode/v1/languages")
        assert languages.status == 200, languages
        reply = server.request("GET", "api/muscode/v1/openapi.yaml")
        assert reply.status == 200, reply
        server.paths = _openapi_paths(str(reply.body))
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        log.close()


# -- the browser -------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        need("Chromium", f"{CHROMIUM} not found: apt-get install -y chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        need("Playwright", "pip install playwright (the browser comes from Debian)")
    # Assertions retry for 15 s rather than Playwright's 5 s: the first page of a session
    # on a busy 2-core machine can take longer than 5 s to hear back from the server.
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "as_user(name): the page's MUSCode calls (HTTP and websockets) carry a bearer token "
        "of this user, who is not an admin (JupyterLab itself still uses the cookie)",
    )
    config.addinivalue_line(
        "markers",
        "hide_endpoints(*paths): the page sees the server's OpenAPI document without these "
        "paths, as a MUSCode server that does not offer them yet",
    )


def _hide_paths(route: Any, hidden: set[str]) -> None:
    import yaml

    response = route.fetch()
    doc = yaml.safe_load(response.text())
    for path in hidden:
        doc.get("paths", {}).pop(path, None)
    route.fulfill(response=response, body=yaml.safe_dump(doc, sort_keys=False))


def open_lab(
    browser: Any,
    lab_server: LabServer,
    user: str | None,
    workspace: str,
    scopes: tuple[str, ...] = STUDENT_SCOPES,
) -> Any:
    """A JupyterLab page in its own browser context (``user``: with that user's bearer
    token of ``scopes`` on every request, websockets included); returns (context, page)."""
    headers = {"Authorization": f"Bearer {lab_server.bearer(user, scopes)}"} if user else None
    context = browser.new_context(
        viewport={"width": 1440, "height": 960},
        record_video_dir=None,
        extra_http_headers=headers,
    )
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.goto(f"{lab_server.url}lab/workspaces/{workspace}?reset&token={lab_server.token}")
    pg.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    pg.wait_for_selector('[data-id="muscode-sidepanel"]', timeout=60_000)
    return context, pg


@pytest.fixture
def page(browser: Any, lab_server: LabServer, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A JupyterLab page in a workspace of its own, logged in with the token."""
    as_user = request.node.get_closest_marker("as_user")
    headers = {"Authorization": f"Bearer {lab_server.bearer(as_user.args[0])}"} if as_user else None
    context = browser.new_context(
        viewport={"width": 1440, "height": 960},
        record_video_dir=None,
        accept_downloads=True,
        extra_http_headers=headers,
    )
    context.set_default_timeout(30_000)
    marker = request.node.get_closest_marker("hide_endpoints")
    if marker is not None:
        hidden = set(marker.args)
        context.route(
            re.compile(r".*/api/muscode/v1/openapi\.yaml(\?.*)?$"),
            lambda route: _hide_paths(route, hidden),
        )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    workspace = _slug(request.node.name)
    pg.goto(f"{lab_server.url}lab/workspaces/{workspace}?reset&token={lab_server.token}")
    pg.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    pg.wait_for_selector('[data-id="muscode-sidepanel"]', timeout=60_000)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENSHOTS / f"FAILED-{workspace}.png"))
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
