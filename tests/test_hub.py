"""A real JupyterHub (dev variant of hub_config/) with the muscode service behind its proxy.

Starts ``MUSCODE_HUB_MODE=dev jupyterhub -f hub_config/jupyterhub_config.py`` on free
127.0.0.1 ports with configurable-http-proxy (``scripts/test.sh`` installs it under
``.ci/node``), drives it with the ``muscode-admin`` service token, and talks to MUSCode at
``/services/muscode/api/muscode/v1`` through the proxy exactly as a browser or script
would. Without JupyterHub or the proxy the tests skip locally and fail with CI=true.
"""

from __future__ import annotations

import http.cookiejar
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
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, need_service

API = "/services/muscode/api/muscode/v1"
# Generous: on a busy machine the service alone can take a minute to start.
START_TIMEOUT = 300.0
# The module's hub starts within its first test.
pytestmark = pytest.mark.timeout(START_TIMEOUT + 180)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    url: str
    admin_token: str

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """(status, JSON body or None). ``token``: a hub API token, or ``Bearer <jwt>``."""
        headers = {"Content-Type": "application/json"}
        auth = token or self.admin_token
        headers["Authorization"] = auth if auth.startswith("Bearer ") else f"token {auth}"
        data = json.dumps(body).encode() if body is not None else None
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b"{}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw) if raw else None
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def user_token(self, name: str) -> str:
        """Create the hub user ``name`` if needed and return a new hub API token of theirs."""
        status, _ = self.call("POST", f"/hub/api/users/{name}")
        assert status in (201, 409), status
        status, body = self.call("POST", f"/hub/api/users/{name}/tokens", {"note": "test"})
        assert status == 201, body
        return str(body["token"])


def _tools() -> tuple[str, str]:
    """(jupyterhub executable, PATH with configurable-http-proxy) or a skip/failure."""
    bindir = Path(sys.executable).parent
    hub = bindir / "jupyterhub"
    if not hub.exists():
        need_service("JupyterHub", f"{hub} is not installed (uv pip install 'jupyterhub>=5,<7')")
    path = os.pathsep.join(
        [str(ROOT / ".ci" / "node" / "bin"), str(bindir), os.environ.get("PATH", "")]
    )
    if shutil.which("configurable-http-proxy", path=path) is None:
        need_service(
            "configurable-http-proxy",
            "run `npm install -g --prefix .ci/node configurable-http-proxy`",
        )
    return str(hub), path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    executable, path = _tools()
    state = tmp_path_factory.mktemp("hub")
    port, api_port, hub_port, service_port = (free_port() for _ in range(4))
    admin_token = secrets.token_hex(32)
    env = {
        **os.environ,
        "PATH": path,
        "MUSCODE_HUB_MODE": "dev",
        "MUSCODE_HUB_ADMIN_TOKEN": admin_token,
        "MUSCODE_HUB_STATE_DIR": str(state),
        "MUSCODE_SERVICE_PORT": str(service_port),
    }
    # The hub must not inherit the identity of a hub these tests might run under.
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL"):
        env.pop(name, None)
    log = (state / "hub.log").open("wb")
    process = subprocess.Popen(
        [
            executable,
            "-f",
            str(ROOT / "hub_config" / "jupyterhub_config.py"),
            f"--port={port}",
            f"--JupyterHub.hub_port={hub_port}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{api_port}",
        ],
        cwd=state,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so teardown stops the proxy and service with it
    )
    running = Hub(f"http://127.0.0.1:{port}", admin_token)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterHub exited ({process.returncode}):\n{_tail(state)}")
            try:
                status, _ = running.call("GET", f"{API}/health")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the hub's muscode service did not come up:\n{_tail(state)}")
            time.sleep(0.5)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


def _tail(state: Path) -> str:
    return (state / "hub.log").read_text(errors="replace")[-4000:]


def test_student_reaches_muscode_through_the_proxy_as_themself(hub: Hub) -> None:
    token = hub.user_token("student1")
    status, me = hub.call("GET", f"{API}/me", token=token)
    assert status == 200, me
    assert me["name"] == "student1" and me["admin"] is False
    # The dev hub makes `instructor` a hub admin, and so a MUSCode admin.
    status, me = hub.call("GET", f"{API}/me", token=hub.user_token("instructor"))
    assert status == 200 and me["name"] == "instructor" and me["admin"] is True
    # No credentials: 401 from MUSCode, not a login page.
    status, _ = hub.call("GET", f"{API}/me", token="not-a-token")
    assert status in (401, 403)


def test_a_class_is_a_hub_group_with_its_roster(hub: Hub) -> None:
    teacher = hub.user_token("instructor")
    student = hub.user_token("student2")
    status, c = hub.call(
        "POST", f"{API}/classes", {"slug": "cs101-hub", "name": "CS"}, token=teacher
    )
    assert status == 201, c
    status, group = hub.call("GET", "/hub/api/groups/cs101-hub")
    assert status == 200 and group["users"] == ["instructor"]

    # `newkid` has no hub account yet: enrolling creates it.
    members = {"members": [{"name": "student2"}, {"name": "newkid", "role": "ta"}]}
    status, roster = hub.call("POST", f"{API}/classes/{c['id']}/members", members, token=teacher)
    assert status == 200, roster
    status, group = hub.call("GET", "/hub/api/groups/cs101-hub")
    assert sorted(group["users"]) == ["instructor", "newkid", "student2"]
    assert hub.call("GET", "/hub/api/users/newkid")[0] == 200

    status, me = hub.call("GET", f"{API}/me", token=student)
    assert me["classes"] == [{"id": c["id"], "slug": "cs101-hub", "role": "student"}]

    # A student's class project: the class's staff read it, another student gets 404.
    body = {"name": "hw", "language": "python", "class_id": c["id"]}
    status, project = hub.call("POST", f"{API}/projects", body, token=student)
    assert status == 201, project
    outsider = hub.user_token("student3")
    assert hub.call("GET", f"{API}/projects/{project['id']}", token=outsider)[0] == 404
    assert hub.call("GET", f"{API}/classes/{c['id']}", token=outsider)[0] == 404
    assert hub.call("GET", f"{API}/projects/{project['id']}", token=teacher)[0] == 200

    status, _ = hub.call("DELETE", f"{API}/classes/{c['id']}/members/newkid", token=teacher)
    assert status == 204
    status, group = hub.call("GET", "/hub/api/groups/cs101-hub")
    assert sorted(group["users"]) == ["instructor", "student2"]


def test_a_revoked_grader_token_is_refused_at_once(hub: Hub) -> None:
    teacher = hub.user_token("instructor")
    body = {"name": "grader", "scopes": ["grade", "classes:read"], "expires_in": 600}
    status, minted = hub.call("POST", f"{API}/tokens", body, token=teacher)
    assert status == 201, minted
    bearer = f"Bearer {minted['token']}"
    status, me = hub.call("GET", f"{API}/me", token=bearer)
    assert status == 200 and me["name"] == "instructor"
    assert hub.call("DELETE", f"{API}/tokens/{minted['id']}", token=teacher)[0] == 204
    status, err = hub.call("GET", f"{API}/me", token=bearer)
    assert status == 401 and err["reason"] == "token_revoked"


def test_a_browser_session_reaches_muscode_without_a_second_login(hub: Hub) -> None:
    """Log in to the hub once; the service's OAuth then completes with no visible step."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(hub.url + "/hub/login", timeout=30).read().decode()
    match = re.search(r'name="_xsrf" value="([^"]+)"', page)
    assert match, "no XSRF field on the hub's login page"
    form = {"username": "student4", "password": "any", "_xsrf": match.group(1)}
    browser.open(hub.url + "/hub/login", urllib.parse.urlencode(form).encode(), timeout=30)
    # Opening the service's lab page runs the OAuth round trip (oauth_no_confirm)...
    landed = browser.open(hub.url + "/services/muscode/lab", timeout=30)
    assert landed.geturl().endswith("/services/muscode/lab")
    # ...after which the API knows the browser's user, with a student's scopes.
    with browser.open(hub.url + API + "/me", timeout=30) as reply:
        me = json.loads(reply.read())
    assert me["name"] == "student4" and me["admin"] is False
    assert "classes:write" not in me["scopes"] and "projects" in me["scopes"]


def test_hub_roles_decide_who_creates_classes(hub: Hub) -> None:
    # `teacher` holds the hub's `instructor` role (dev config) but is no hub admin.
    teacher = hub.user_token("teacher")
    status, me = hub.call("GET", f"{API}/me", token=teacher)
    assert me["admin"] is False and {"classes:write", "grade"} <= set(me["scopes"])
    status, c = hub.call("POST", f"{API}/classes", {"slug": "cs202", "name": "CS"}, token=teacher)
    assert status == 201, c
    status, group = hub.call("GET", "/hub/api/groups/cs202")
    assert status == 200 and group["users"] == ["teacher"]
    student = hub.user_token("student5")
    status, err = hub.call("POST", f"{API}/classes", {"slug": "mine", "name": "M"}, token=student)
    assert status == 403 and err["reason"] == "missing_scope"


def test_the_service_offers_users_muscode_and_nothing_else(hub: Hub) -> None:
    """The service runs beside the database, Redis and Docker credentials: a hub user
    must not reach its Jupyter Server's kernels, terminals, files or event stream."""
    token = hub.user_token("student2")
    assert hub.call("GET", f"{API}/me", token=token)[0] == 200
    for path in ("api/kernels", "api/contents", "api/sessions", "api/terminals", "api/kernelspecs"):
        status, body = hub.call("GET", f"/services/muscode/{path}", token=token)
        assert status in (403, 404), (path, status, body)
    status, body = hub.call("POST", "/services/muscode/api/kernels", {}, token=token)
    assert status in (403, 404), (status, body)
    # Even a hub admin: code never runs in the service's own process.
    admin = hub.user_token("instructor")
    status, body = hub.call("POST", "/services/muscode/api/kernels", {}, token=admin)
    assert status in (403, 404), (status, body)


def test_the_service_authorizer_allows_only_muscode() -> None:
    from muscode_ext.auth import ServiceAuthorizer
    from muscode_ext.handlers.base import AUTH_RESOURCE

    authorizer = ServiceAuthorizer()
    assert authorizer.is_authorized(None, None, "write", AUTH_RESOURCE)
    for resource in ("kernels", "contents", "terminals", "events", "sessions", "api", "server"):
        for action in ("read", "write", "execute"):
            assert not authorizer.is_authorized(None, None, action, resource)


def _browser_login(hub: Hub, name: str) -> tuple[Any, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = browser.open(hub.url + "/hub/login", timeout=30).read().decode()
    match = re.search(r'name="_xsrf" value="([^"]+)"', page)
    assert match, "no XSRF field on the hub's login page"
    form = {"username": name, "password": "any", "_xsrf": match.group(1)}
    browser.open(hub.url + "/hub/login", urllib.parse.urlencode(form).encode(), timeout=30)
    return browser, jar


def _fetch(
    browser: Any, url: str, xsrf: str | None, body: Any = None, method: str = "GET"
) -> tuple[int, Any]:
    """What a page's ``fetch`` sends: the cookies, Sec-Fetch-* and JupyterLab's XSRF header."""
    headers = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
    if xsrf is not None:
        headers["X-XSRFToken"] = xsrf
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with browser.open(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def test_a_students_lab_reaches_muscode_through_its_own_server(hub: Hub) -> None:
    """The lab in /user/<name>/ calls its own server, which relays to the service with
    the server's hub token; the student's identity and scopes arrive intact."""
    name = "student6"
    browser, jar = _browser_login(hub, name)
    status, body = hub.call("POST", f"/hub/api/users/{name}/server")
    assert status in (201, 202), body
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        status, model = hub.call("GET", f"/hub/api/users/{name}")
        if model["servers"].get("", {}).get("ready"):
            break
        assert time.monotonic() < deadline, model
        time.sleep(0.5)
    try:
        # Opening the lab (a navigation) logs the browser into the student's server.
        landed = browser.open(hub.url + f"/user/{name}/lab", timeout=60)
        assert landed.geturl().startswith(hub.url + f"/user/{name}/")
        xsrf = next(c.value for c in jar if c.name == "_xsrf" and c.path == f"/user/{name}/")
        base = hub.url + f"/user/{name}/api/muscode/v1"
        status, me = _fetch(browser, base + "/me", xsrf)
        assert status == 200, me
        assert me["name"] == name and me["admin"] is False
        assert "projects" in me["scopes"] and "classes:write" not in me["scopes"]
        project = {"name": "via-lab", "language": "python"}
        status, created = _fetch(browser, base + "/projects", xsrf, project, "POST")
        assert status == 201, created
        # The project lives in the service: the hub-token view of MUSCode sees it.
        status, listed = hub.call("GET", f"{API}/projects", token=hub.user_token(name))
        assert status == 200 and [p["name"] for p in listed] == ["via-lab"]
        # Without Jupyter's XSRF token the student's server refuses a POST, as always.
        status, _ = _fetch(
            browser, base + "/projects", None, {"name": "x", "language": "c"}, "POST"
        )
        assert status in (401, 403)
        # Why the relay exists: the same fetch straight to the service is not accepted
        # with the hub cookie, because the page cannot know the service's XSRF token.
        status, _ = _fetch(browser, hub.url + f"{API}/me", xsrf)
        assert status != 200
    finally:
        hub.call("DELETE", f"/hub/api/users/{name}/server")


# -- the service's landing page (the hub's Services → muscode link) -------------------

BROWSER_ACCEPT = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_the_services_root_greets_a_browser_with_its_classes(hub: Hub) -> None:
    teacher = hub.user_token("instructor")
    title = '<script>alert("x")</script> & Co'
    body = {"slug": "home-101", "name": title, "term": "<b>fall</b>"}
    status, c = hub.call("POST", f"{API}/classes", body, token=teacher)
    assert status == 201, c
    members = {"members": [{"name": "student7"}]}
    status, roster = hub.call("POST", f"{API}/classes/{c['id']}/members", members, token=teacher)
    assert status == 200, roster

    browser, _ = _browser_login(hub, "student7")
    request = urllib.request.Request(hub.url + "/services/muscode/", headers=BROWSER_ACCEPT)
    with browser.open(request, timeout=60) as reply:
        assert reply.headers["Content-Type"].startswith("text/html")
        page = reply.read().decode()
    assert '<strong id="muscode-user">student7</strong>' in page
    # The class's name and term show as text, never as markup.
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page
    assert "&lt;b&gt;fall&lt;/b&gt;" in page
    assert "<script" not in page and "<b>" not in page
    assert "<td>student</td>" in page
    assert 'href="/hub/user-redirect/lab"' in page

    # The class's instructor sees the same class with their own role.
    browser, _ = _browser_login(hub, "instructor")
    with browser.open(request, timeout=60) as reply:
        page = reply.read().decode()
    assert '<strong id="muscode-user">instructor</strong>' in page
    assert "<td>instructor</td>" in page


def test_the_services_root_sends_strangers_to_log_in_and_api_clients_to_json(hub: Hub) -> None:
    # A browser with no hub session ends on the hub's login page.
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    request = urllib.request.Request(hub.url + "/services/muscode/", headers=BROWSER_ACCEPT)
    with browser.open(request, timeout=60) as reply:
        landed = reply.geturl()
        page = reply.read().decode()
    assert urllib.parse.urlsplit(landed).path == "/hub/login", landed
    assert "muscode-user" not in page
    # An API client asking for JSON gets what the root always gave: the health report.
    status, health = hub.call("GET", "/services/muscode/", token=hub.user_token("student8"))
    assert status == 200 and health["checks"]["database"] == "ok", health
