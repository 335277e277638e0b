"""The classroom stack end to end, through the hub's public port only.

The README's commands build the images (cached), write the settings and bring the
stack up with two muscode replicas and two workers. Then, as people would: an
instructor and a student sign up and log in (NativeAuthenticator, the production
authenticator: the instructor is a hub admin and authorizes the student); the student's
server is spawned in its own container; code runs from it with live output and stdin
over its websocket; a class, its roster and an assignment are made, submitted, regraded
and exported. From inside the student's container, PostgreSQL, Redis, the replicas, the
load balancer, a worker and the Docker socket are out of reach; Redis and PostgreSQL
want their passwords. A replica and a worker are killed under 200 runs from 20
clients: none is lost or stuck. The hub restarts: classes and the running student
server are still there.

The tests share one stack and run in file order (each builds on the one before).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from .stack import MUSCODE_API, Stack, run, wait_until, with_token

pytestmark = pytest.mark.timeout(1800)

PASSWORD = {
    "instructor": "Instr-" + secrets.token_hex(8),
    "student": "Stud-" + secrets.token_hex(8),
}
#: What the tests hand each other (tokens, ids), in file order.
STATE: dict[str, Any] = {}


def service(stack: Stack, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """MUSCode's API as the hub service, with the user's hub API token."""
    return requests.request(
        method,
        f"{stack.url}{MUSCODE_API}/{path}",
        headers={**with_token(STATE["tokens"][user]), **kwargs.pop("headers", {})},
        timeout=120,
        **kwargs,
    )


def own_server(stack: Stack, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """MUSCode's API as the lab calls it: the user's own server, which relays it."""
    return requests.request(
        method,
        f"{stack.url}user/{user}/api/muscode/v1/{path}",
        headers={**with_token(STATE["tokens"][user]), **kwargs.pop("headers", {})},
        timeout=120,
        **kwargs,
    )


def test_instructor_and_student_sign_up_and_log_in(stack: Stack) -> None:
    for user in ("instructor", "student"):
        pw = PASSWORD[user]
        reply = stack.form(
            user,
            "hub/signup",
            {"username": user, "signup_password": pw, "signup_password_confirmation": pw},
        )
        assert reply.status_code == 200, reply.text[-500:]
    # The student's account waits for an admin; the instructor (MUSCODE_HUB_ADMINS) is one.
    reply = stack.form(
        "student",
        "hub/login?next=%2Fhub%2Fhome",
        {"username": "student", "password": PASSWORD["student"]},
    )
    assert not reply.url.endswith("/hub/home")
    reply = stack.form(
        "instructor",
        "hub/login?next=%2Fhub%2Fhome",
        {"username": "instructor", "password": PASSWORD["instructor"]},
    )
    assert reply.url.endswith("/hub/home"), reply.url
    reply = stack.session("instructor").get(stack.url + "hub/authorize/student", timeout=30)
    assert reply.status_code == 200
    reply = stack.form(
        "student",
        "hub/login?next=%2Fhub%2Fhome",
        {"username": "student", "password": PASSWORD["student"]},
    )
    assert reply.url.endswith("/hub/home"), reply.url

    # API tokens, asked for with each one's browser session.
    STATE["tokens"] = {}
    for user in ("instructor", "student"):
        reply = stack.hub_api(user, "POST", f"users/{user}/tokens", json={"note": "stack test"})
        assert reply.status_code == 201, reply.text
        STATE["tokens"][user] = reply.json()["token"]
    me = service(stack, "instructor", "GET", "me").json()
    assert me["name"] == "instructor" and me["admin"] is True
    assert service(stack, "student", "GET", "me").json()["admin"] is False


def test_student_server_spawns_in_its_own_container(stack: Stack) -> None:
    token = with_token(STATE["tokens"]["student"])
    reply = requests.post(stack.url + "hub/api/users/student/server", headers=token, timeout=60)
    assert reply.status_code in (201, 202), reply.text

    def ready() -> bool:
        user = requests.get(stack.url + "hub/api/users/student", headers=token, timeout=30).json()
        return bool(user["servers"].get("", {}).get("ready"))

    wait_until("the student's server", ready, timeout=240)
    container = stack.inspect(stack.student_container("student"))
    assert container["State"]["Running"]
    assert container["Config"]["User"] in ("jovyan", "1000")
    assert set(container["NetworkSettings"]["Networks"]) == {f"{stack.project}-students"}
    assert container["HostConfig"]["CapDrop"] == ["ALL"]
    STATE["student_container_id"] = container["Id"]
    # The lab's MUSCode calls go to the student's server, which relays them through the
    # hub's proxy to a replica.
    reply = own_server(stack, "student", "GET", "me")
    assert reply.status_code == 200, reply.text
    assert reply.json()["name"] == "student"
    languages = {
        lang["id"]: lang for lang in own_server(stack, "student", "GET", "languages").json()
    }
    assert languages["python"]["available"], languages["python"]


async def _interactive_run(stack: Stack, run_id: str) -> tuple[list[dict[str, Any]], str]:
    request = HTTPRequest(
        f"ws://127.0.0.1:{stack.port}/user/student/api/muscode/v1/executions/{run_id}/stream",
        headers=with_token(STATE["tokens"]["student"]),
    )
    ws = await websocket_connect(request)
    messages: list[dict[str, Any]] = []
    printed = ""
    try:
        sent = False
        while True:
            raw = await asyncio.wait_for(ws.read_message(), 120)
            assert raw is not None, f"the websocket closed early after {messages}"
            message = json.loads(raw)
            messages.append(message)
            if message["type"] == "stdout":
                printed += message["data"]
            # Live: the prompt arrives while the program waits for its input.
            if "ready" in printed and not sent:
                await ws.write_message(json.dumps({"type": "stdin", "data": "world\n"}))
                await ws.write_message(json.dumps({"type": "eof"}))
                sent = True
            if message["type"] == "done":
                return messages, printed
    finally:
        ws.close()


def test_code_runs_from_the_students_server_live_with_stdin(stack: Stack) -> None:
    source = "print('ready', flush=True)\nname = input()\nprint('hello', name)\n"
    reply = own_server(
        stack,
        "student",
        "POST",
        "executions",
        json={"language": "python", "source": source, "interactive": True},
    )
    assert reply.status_code == 201, reply.text
    messages, printed = asyncio.run(_interactive_run(stack, reply.json()["id"]))
    result = messages[-1]["result"]
    assert result["verdict"] == "accepted", result
    assert printed == result["stdout"] == "ready\nhello world\n"


def test_a_class_its_roster_an_assignment_submitted_regraded_and_exported(stack: Stack) -> None:
    slug = f"cs{secrets.token_hex(3)}"
    reply = service(stack, "instructor", "POST", "classes", json={"slug": slug, "name": "CS 101"})
    assert reply.status_code == 201, reply.text
    cid = STATE["class_id"] = reply.json()["id"]
    reply = service(
        stack,
        "instructor",
        "POST",
        f"classes/{cid}/members.csv",
        data="name,role\nstudent,student\n",
        headers={"Content-Type": "text/csv"},
    )
    assert reply.status_code == 200, reply.text
    # The class is a hub group with its instructor (who made it) and the student in it.
    group = requests.get(
        stack.url + f"hub/api/groups/{slug}",
        headers=with_token(STATE["tokens"]["instructor"]),
        timeout=30,
    ).json()
    assert sorted(group["users"]) == ["instructor", "student"]
    tests = [
        {"name": "small", "stdin": "1 2\n", "expected_output": "3\n", "points": 1},
        {
            "name": "large",
            "stdin": "40 2\n",
            "expected_output": "42\n",
            "points": 2,
            "hidden": True,
        },
    ]
    reply = service(
        stack,
        "instructor",
        "POST",
        f"classes/{cid}/assignments",
        json={
            "title": "Add two numbers",
            "description": "Read two integers, print their sum.",
            "language": "python",
            "starter_files": [{"path": "main.py", "content": "a, b = map(int, input().split())\n"}],
            "tests": tests,
            "published": True,
        },
    )
    assert reply.status_code == 201, reply.text
    aid = reply.json()["id"]

    # The student works from their own server, as the lab does.
    reply = own_server(stack, "student", "POST", f"assignments/{aid}/start")
    assert reply.status_code == 201, reply.text
    project = reply.json()
    (f,) = project["files"]
    reply = own_server(
        stack,
        "student",
        "PUT",
        f"projects/{project['id']}/files/{f['id']}",
        json={
            "content": "a, b = map(int, input().split())\nprint(a + b)\n",
            "version": f["version"],
        },
    )
    assert reply.status_code == 200, reply.text
    reply = own_server(
        stack,
        "student",
        "POST",
        f"assignments/{aid}/submissions",
        json={"project_id": project["id"]},
    )
    assert reply.status_code == 201, reply.text

    def graded() -> bool:
        reply = service(stack, "instructor", "GET", f"assignments/{aid}")
        return bool(reply.json()["grading"]["pending"] == 0)

    wait_until("the submission's grade", graded, timeout=180)
    reply = service(stack, "instructor", "POST", f"assignments/{aid}/regrade")
    assert reply.status_code == 202, reply.text
    assert reply.json()["total"] == 1
    wait_until("the regrade", graded, timeout=180)
    (sub,) = service(stack, "instructor", "GET", f"assignments/{aid}/submissions").json()
    assert (sub["student"], sub["status"], sub["score"]) == ("student", "graded", 3)
    reply = service(stack, "instructor", "GET", f"assignments/{aid}/grades.csv")
    assert reply.status_code == 200, reply.text
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    assert [(r["student"], r["latest_score"], r["max_score"]) for r in rows] == [
        ("student", "3", "3")
    ]


PROBE = """
import json, os, socket, sys
out = {}
for host, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((host, port), timeout=3).close()
        out[f"{host}:{port}"] = "open"
    except OSError as e:
        out[f"{host}:{port}"] = type(e).__name__
out["docker.sock"] = os.path.exists("/var/run/docker.sock")
print(json.dumps(out))
"""


def test_the_students_container_reaches_the_proxy_and_nothing_else(stack: Stack) -> None:
    backend: list[tuple[str, int]] = []
    for svc, port in [
        ("postgres", 5432),
        ("redis", 6379),
        ("muscode", 10101),
        ("muscode-lb", 8080),
        ("worker", 9100),
    ]:
        backend.append((svc, port))  # by name: not even resolvable from there
        for container in stack.containers(svc):
            backend += [(ip, port) for ip in stack.addresses(container)]
    # The host, through the backend network's gateway (its engine and published port).
    gateways = {
        n["Gateway"]
        for name in stack.containers("redis")
        for n in stack.inspect(name)["NetworkSettings"]["Networks"].values()
    }
    backend += [(g, p) for g in gateways for p in (2375, 2376, stack.port, 5432, 6379)]
    allowed = [("hub", 8000), ("hub", 8081)]
    done = run(
        [
            "docker",
            "exec",
            stack.student_container("student"),
            "python3",
            "-c",
            PROBE,
            json.dumps(allowed + backend),
        ],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    reach = json.loads(done.stdout)
    assert reach.pop("docker.sock") is False
    assert reach.pop("hub:8000") == "open" and reach.pop("hub:8081") == "open"
    assert len(reach) >= 10
    assert not [target for target, result in reach.items() if result == "open"], reach


def test_redis_and_postgresql_refuse_connections_without_their_password(stack: Stack) -> None:
    (redis,) = stack.containers("redis")
    done = run(["docker", "exec", redis, "redis-cli", "-h", "127.0.0.1", "ping"], timeout=60)
    assert "NOAUTH" in done.stdout + done.stderr, done
    (postgres,) = stack.containers("postgres")
    done = run(
        [
            "docker",
            "exec",
            "-e",
            "PGCONNECT_TIMEOUT=5",
            postgres,
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "muscode",
            "-d",
            "muscode",
            "-w",
            "-c",
            "select 1",
        ],
        timeout=60,
    )
    assert done.returncode != 0
    assert "password" in done.stderr, done.stderr


def _client(stack: Stack, token: str, runs: int, ids: list[str], errors: Counter[str]) -> None:
    """One client: `runs` runs one after another, each retried until it has an id."""
    for i in range(runs):
        body = {
            "language": "python",
            "source": f"print(sum(range({i + 1})))",
            "expected_output": f"{sum(range(i + 1))}\n",
        }
        for _attempt in range(30):
            try:
                reply = requests.post(
                    f"{stack.url}{MUSCODE_API}/executions",
                    json=body,
                    headers=with_token(token),
                    timeout=30,
                )
            except requests.RequestException as e:
                errors[type(e).__name__] += 1
                time.sleep(1)
                continue
            if reply.status_code == 201:
                ids.append(reply.json()["id"])
                break
            errors[str(reply.status_code)] += 1
            time.sleep(float(reply.headers.get("Retry-After", "1")))
        else:
            raise AssertionError(f"a run could not be submitted: {errors}")


def test_no_run_is_lost_when_a_replica_and_a_worker_die(stack: Stack) -> None:
    admin = with_token(STATE["tokens"]["instructor"])
    users = [f"load{i:02d}" for i in range(20)]
    reply = requests.post(
        stack.url + "hub/api/users", json={"usernames": users}, headers=admin, timeout=60
    )
    assert reply.status_code == 201, reply.text
    tokens = {}
    for user in users:
        reply = requests.post(
            stack.url + f"hub/api/users/{user}/tokens",
            json={"note": "load"},
            headers=admin,
            timeout=60,
        )
        assert reply.status_code == 201, reply.text
        tokens[user] = reply.json()["token"]
    replicas, workers = stack.containers("muscode"), stack.containers("worker")
    assert len(replicas) == 2 and len(workers) == 2

    ids: dict[str, list[str]] = {user: [] for user in users}
    errors: Counter[str] = Counter()
    start = time.monotonic()
    with ThreadPoolExecutor(len(users)) as pool:
        futures = [pool.submit(_client, stack, tokens[u], 10, ids[u], errors) for u in users]
        wait_until("40 runs in flight", lambda: sum(map(len, ids.values())) >= 40, timeout=300)
        for victim in (replicas[0], workers[0]):
            assert run(["docker", "kill", victim], timeout=60).returncode == 0
        for future in futures:
            future.result()
    submitted = [i for user_ids in ids.values() for i in user_ids]
    assert len(submitted) == 200 and len(set(submitted)) == 200

    def results() -> dict[str, dict[str, Any]] | None:
        done: dict[str, dict[str, Any]] = {}
        for user, user_ids in ids.items():
            reply = requests.get(
                f"{stack.url}{MUSCODE_API}/executions",
                params={"ids": ",".join(user_ids)},
                headers=with_token(tokens[user]),
                timeout=60,
            )
            reply.raise_for_status()
            done.update({r["id"]: r for r in reply.json() if r["status"] == "done"})
        return done if len(done) == len(submitted) else None

    finished = wait_until("every run to finish", results, timeout=420, every=2)
    verdicts = Counter(r["verdict"] for r in finished.values())
    print(
        f"\n200 runs from 20 clients in {time.monotonic() - start:.1f} s with a replica and "
        f"a worker killed: {dict(verdicts)}; submissions retried: {dict(errors)}"
    )
    others = [
        {k: r.get(k) for k in ("verdict", "exit_code", "signal", "stderr", "message")}
        for r in finished.values()
        if r["verdict"] != "accepted"
    ]
    assert verdicts["accepted"] + verdicts["internal_error"] == 200, others
    assert verdicts["internal_error"] <= 5, verdicts


def test_classes_and_running_servers_survive_a_hub_restart(stack: Stack) -> None:
    done = stack.compose("restart", "hub", timeout=300)
    assert done.returncode == 0, done.stderr
    token = with_token(STATE["tokens"]["student"])

    def hub_back() -> bool:
        return requests.get(stack.url + "hub/health", timeout=10).status_code == 200

    wait_until("the hub", hub_back, timeout=180)
    user = requests.get(stack.url + "hub/api/users/student", headers=token, timeout=30).json()
    assert user["servers"][""]["ready"] is True
    container = stack.inspect(stack.student_container("student"))
    assert container["Id"] == STATE["student_container_id"] and container["State"]["Running"]
    # Its route is back in the proxy, and MUSCode still answers through it.
    reply = wait_until(
        "the student's server through the proxy",
        lambda: (r := own_server(stack, "student", "GET", "me")).status_code == 200 and r,
        timeout=120,
    )
    assert reply.json()["name"] == "student"
    classes = service(stack, "instructor", "GET", "classes").json()
    assert STATE["class_id"] in [c["id"] for c in classes]
