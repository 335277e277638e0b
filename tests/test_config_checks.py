"""Security settings that would silently mean something else stop the start instead.

Through Jupyter Server's command line, ``--MuscodeApp.admin_users="['teacher']"`` gave
the one user name ``['teacher']`` and ``callback_allow_hosts="['127.0.0.1']"`` the one
"host" ``['127.0.0.1']`` (which matches no host, so the allowance was dropped). User
names, hosts and URLs are now checked when the app, its parts or a worker start, and a
wrong one is refused with a sentence naming the setting and the accepted forms.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from traitlets import TraitError
from traitlets.config import Config

from muscode_ext.app import MuscodeApp
from muscode_ext.parts import build_parts
from muscode_ext.relay import Relay
from muscode_ext.services.callbacks import CallbackSender
from muscode_ext.settings import StartupError, WorkerSettings
from muscode_ext.worker import WorkerApp

from .test_config import _close, _env

BIN = Path(sys.executable).parent
LOGGER = "muscode-config-checks-test"

ADMIN_LITERAL = (
    "MuscodeApp.admin_users: got the string \"['teacher']\"; give names as "
    "--MuscodeApp.admin_users=teacher --MuscodeApp.admin_users=other or in a config "
    "file as a list"
)


def _start(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``jupyter muscode`` with ``args``, as an operator types it (never left running)."""
    return subprocess.run(
        [
            str(BIN / "jupyter-muscode"),
            *args,
            f"--MuscodeApp.db_url=sqlite:///{tmp_path / 'm.sqlite'}",
            "--ServerApp.port=0",
            "--ServerApp.open_browser=False",
            "--ServerApp.jpserver_extensions=jupyter_server_terminals=False",
        ],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--MuscodeApp.admin_users=['teacher']", "--MuscodeApp.max_tests=5"],
            ADMIN_LITERAL,
        ),
        (
            ["--MuscodeApp.callback_allow_hosts=['127.0.0.1']", "--MuscodeApp.max_tests=5"],
            "MuscodeApp.callback_allow_hosts: got the string \"['127.0.0.1']\"; give hosts as "
            "--MuscodeApp.callback_allow_hosts=127.0.0.1 --MuscodeApp.callback_allow_hosts="
            "other or in a config file as a list",
        ),
        (
            ["--CallbackSender.allow_hosts=grader school", "--MuscodeApp.max_tests=5"],
            "CallbackSender.allow_hosts: 'grader school' is not a host name, an IP address "
            "or a network (CIDR such as 10.0.0.0/8)",
        ),
    ],
    ids=["admin-list", "old-hosts-list", "bad-host"],
)
def test_jupyter_muscode_refuses_to_start_naming_the_setting(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = _start(tmp_path, *args)
    assert out.returncode != 0, out.stderr[-3000:]
    assert message in out.stderr, out.stderr[-3000:]


def _app(tmp_path: Path, **settings: Any) -> MuscodeApp:
    config = Config({"MuscodeApp": {"db_url": f"sqlite:///{tmp_path / 'm.sqlite'}", **settings}})
    return MuscodeApp(config=config, log=logging.getLogger(LOGGER))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"callback_allow_hosts": {"10.0.0.0/33"}},
            "MuscodeApp.callback_allow_hosts: '10.0.0.0/33' is not a network",
        ),
        (
            {"redis_url": "127.0.0.1:6379"},
            "MuscodeApp.redis_url: '127.0.0.1:6379' must start with redis://, rediss://, unix://",
        ),
        (
            {"redis_url": "redis://:6379/0"},
            "MuscodeApp.redis_url: 'redis://:6379/0' names no valid host",
        ),
    ],
)
def test_the_app_refuses_a_wrong_host_or_url(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(TraitError) as caught:
        _app(tmp_path, **settings)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"['teacher']"}, ADMIN_LITERAL),
        (
            {"teacher,other"},
            'MuscodeApp.admin_users: got the string "teacher,other"; give names as '
            "--MuscodeApp.admin_users=teacher --MuscodeApp.admin_users=other",
        ),
        ({"muscode/grader"}, "MuscodeApp.admin_users: 'muscode/grader' is reserved"),
        ({"teacher", "te acher"}, "MuscodeApp.admin_users: 'te acher' holds U+0020"),
    ],
)
def test_the_server_refuses_wrong_admin_names(
    tmp_path: Path, names: set[str], message: str
) -> None:
    app = _app(tmp_path, admin_users=names)
    with pytest.raises(StartupError) as caught:
        app.make_server()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("section", "settings", "message"),
    [
        (
            "CallbackSender",
            {"allow_hosts": {"['127.0.0.1', '10.0.0.2']"}},
            "CallbackSender.allow_hosts: got the string \"['127.0.0.1', '10.0.0.2']\"; give "
            "hosts as --CallbackSender.allow_hosts=127.0.0.1 "
            "--CallbackSender.allow_hosts=10.0.0.2 or in a config file as a list",
        ),
        (
            "Relay",
            {"service_url": "hub:8081/services/muscode/"},
            "Relay.service_url: 'hub:8081/services/muscode/' must start with http://, https://",
        ),
    ],
)
def test_a_parts_security_setting_stops_the_start_naming_it(
    tmp_path: Path, section: str, settings: dict[str, Any], message: str
) -> None:
    app = _app(tmp_path)
    app.update_config(Config({section: settings}))
    with pytest.raises(StartupError) as caught:
        if section == "Relay":
            app.initialize_settings()
        else:
            build_parts(app, consume=False)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_workers_settings_are_checked_too(tmp_path: Path) -> None:
    worker = WorkerApp(log=logging.getLogger(LOGGER))
    worker.parse_command_line(
        [
            f"--MuscodeApp.db_url=sqlite:///{tmp_path / 'w.sqlite'}",
            "--MuscodeApp.redis_url=localhost",
        ]
    )
    with pytest.raises(StartupError, match=r"MuscodeApp.redis_url: 'localhost' must start with"):
        WorkerSettings.from_config(worker, str(tmp_path / "data"))
    worker = WorkerApp(log=logging.getLogger(LOGGER))
    worker.update_config(
        Config(
            {
                "MuscodeApp": {"db_url": f"sqlite:///{tmp_path / 'w.sqlite'}"},
                "CallbackSender": {"allow_hosts": {"['grader']"}},
            }
        )
    )
    settings = WorkerSettings.from_config(worker, str(tmp_path / "data"))
    with pytest.raises(StartupError, match=r"^CallbackSender.allow_hosts: got the string"):
        build_parts(settings, consume=True)


async def test_good_values_work_and_networks_are_allowed(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        admin_users={"teacher", "other.person@school.example"},
        callback_allow_hosts={"grader.school.example", "10.1.0.0/16", "fd00::1", "[::1]"},
        redis_url="",
    )
    assert app.admin_users == {"teacher", "other.person@school.example"}
    parts = build_parts(app, consume=False)
    try:
        policy = parts.callbacks.policy
        for host in ("grader.school.example", "GRADER.school.example.", "10.1.2.3", "::1"):
            assert policy.allowed_host(host), host
        for host in ("10.2.0.1", "127.0.0.1", "grader.other.example"):
            assert not policy.allowed_host(host), host
    finally:
        await _close(parts)
    assert Relay(service_url="https://hub.example/services/muscode").service_url.endswith("/")
    assert CallbackSender(allow_hosts={"127.0.0.1", "grader_1.lan"}).allow_hosts
    # The list literal works where it is parsed as one: Jupyter's own parsing of a
    # MuscodeApp option given alone.
    app = _app(tmp_path)
    app.parse_command_line(["--MuscodeApp.admin_users=['teacher']"])
    assert app.admin_users == {"teacher"}
