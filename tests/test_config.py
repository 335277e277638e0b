"""Configuration as an operator writes it: each part's own options, where `--help-all`
documents them, the old `MuscodeApp` spellings that still work (with a warning naming
the new one), and the same settings reaching a `muscode-worker`'s parts."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from muscode_ext.app import MuscodeApp
from muscode_ext.execution.docker import DockerSandbox
from muscode_ext.execution.local import LocalSandbox
from muscode_ext.parts import ENGINE_CLASSES, Parts, build_parts
from muscode_ext.queue.redis import RedisQueue
from muscode_ext.relay import Relay
from muscode_ext.services.callbacks import CallbackSender
from muscode_ext.services.ratelimit import RunLimiter
from muscode_ext.services.sockets import Sockets
from muscode_ext.settings import MOVED, StartupError, WorkerSettings
from muscode_ext.worker import WorkerApp

from .conftest import need_bubblewrap
from .redis_support import REDIS_URL, redis_prefix  # noqa: F401 - fixture

BIN = Path(sys.executable).parent
LOGGER = "muscode-config-test"

#: A value for each old option, unlike its default.
OLD_VALUES: dict[str, Any] = {
    "workers": 3,
    "redis_claim_after": 5.0,
    "callback_secret": "s" * 40,
    "callback_allow_hosts": {"grader.school.example"},
    "callback_attempts": 2,
    "callback_first_delay": 0.5,
    "run_rate_limit": "7/minute",
    "grader_rate_limit": "70/minute",
    "max_active_runs": 9,
    "max_queue_depth": 99,
    "service_url": "http://hub:8081/services/muscode/",
    "allow_unsafe_sandbox": True,
    "docker_runtime": "runsc",
    "docker_image": "muscode-runner:test",
    "docker_url": "unix:///run/test-docker.sock",
    "docker_pool_size": 0,
    "docker_work_root": "/var/lib/muscode/test-runs",
}


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MUSCODE_", "JUPYTER"))}
    env.update(
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        JUPYTER_PLATFORM_DIRS="1",
    )
    return env


def _help(tmp_path: Path, command: str) -> str:
    out = subprocess.run(
        [str(BIN / command), "--help-all"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def _app(tmp_path: Path, **settings: Any) -> MuscodeApp:
    config = Config({"MuscodeApp": {"db_url": f"sqlite:///{tmp_path / 'm.sqlite'}", **settings}})
    return MuscodeApp(config=config, log=logging.getLogger(LOGGER))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


async def _close(parts: Parts) -> None:
    await parts.queue.stop()
    await parts.bus.close()
    await parts.db.dispose()
    parts.audit.close()


# -- --help-all ---------------------------------------------------------------------


def test_help_all_documents_each_option_on_its_part(tmp_path: Path) -> None:
    text = _help(tmp_path, "jupyter-muscode")
    for cls in [*ENGINE_CLASSES, RunLimiter, Sockets, Relay]:
        names = cls.class_trait_names(config=True)
        assert names, cls
        for name in names:
            assert f"--{cls.__name__}.{name}=" in text, f"{cls.__name__}.{name}"
    for option in (
        "--RedisQueue.claim_after=",
        "--InProcessQueue.concurrency=",
        "--RedisEventBus.retry_for=",
        "--CallbackSender.secret=",
        "--RunLimiter.user_rate=",
        "--Sockets.max_message_size=",
        "--ExecutionRunner.max_pending_stdin=",
        "--Relay.service_url=",
        "--MuscodeApp.queue_class=",
        "--MuscodeApp.event_bus_class=",
        "--MuscodeApp.sandbox_class=",
    ):
        assert option in text, option
    # An old spelling is listed, saying where the option went.
    old = text[text.index("--MuscodeApp.redis_claim_after=") :]
    assert "Deprecated: use RedisQueue.claim_after" in old[:300]


def test_the_workers_help_documents_the_options_it_reads(tmp_path: Path) -> None:
    text = _help(tmp_path, "muscode-worker")
    for option in (
        "--MuscodeApp.db_url=",
        "--MuscodeApp.redis_url=",
        "--RedisQueue.claim_after=",
        "--Queue.concurrency=",
        "--CallbackSender.attempts=",
    ):
        assert option in text, option
    workers = text[text.index("--workers=") :]
    assert "Equivalent to: [--Queue.concurrency]" in workers[:400]


# -- old spellings --------------------------------------------------------------------


def test_every_old_option_lands_on_its_part_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert set(OLD_VALUES) == set(MOVED)
    caplog.set_level(logging.WARNING, LOGGER)
    app = _app(tmp_path, **OLD_VALUES)
    for old, value in OLD_VALUES.items():
        cls, new = MOVED[old]
        assert app.config[cls][new] == value, old
        assert any(
            f"MuscodeApp.{old} is deprecated: use {cls}.{new}" in w for w in _warnings(caplog)
        ), old


async def test_old_options_reach_the_parts_of_a_server(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    redis_prefix: str,  # noqa: F811
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    app = _app(
        tmp_path,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        redis_claim_after=5.0,
        workers=3,
        callback_attempts=2,
        callback_allow_hosts={"grader.school.example"},
        run_rate_limit="7/minute",
        max_queue_depth=99,
        allow_unsafe_sandbox=True,
        docker_pool_size=0,
        docker_url="unix:///run/test-docker.sock",
    )
    parts = build_parts(app, consume=False)
    try:
        assert isinstance(parts.queue, RedisQueue)
        assert (parts.queue.claim_after, parts.queue.concurrency) == (5.0, 3)
        assert parts.callbacks.attempts == 2
        assert parts.callbacks.policy.allowed_host("grader.school.example")
        assert (parts.limiter.user_rate, parts.limiter.max_queue_depth) == ("7/minute", 99)
        assert isinstance(parts.sandbox, LocalSandbox) and parts.sandbox.allow_unsafe
    finally:
        await _close(parts)
    # The Docker sandbox gets its moved options too.
    docker = DockerSandbox(parent=app)
    assert docker.pool_size == 0 and docker.docker_url == "unix:///run/test-docker.sock"


def test_an_old_option_on_the_command_line_still_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    app = _app(tmp_path)
    app.parse_command_line(["--MuscodeApp.redis_claim_after=7", "--MuscodeApp.callback_attempts=6"])
    queue = RedisQueue(REDIS_URL, parent=app)
    assert queue.claim_after == 7.0
    assert app.config.CallbackSender.attempts == 6
    assert any("use RedisQueue.claim_after" in w for w in _warnings(caplog))


def test_an_old_set_option_can_still_be_added_to(tmp_path: Path) -> None:
    config = Config()
    config.MuscodeApp.callback_allow_hosts.add("grader.school.example")
    app = MuscodeApp(config=config, log=logging.getLogger(LOGGER))
    assert CallbackSender(parent=app).allow_hosts == {"grader.school.example"}


def test_the_new_name_wins_over_the_old_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    config = Config(
        {
            "MuscodeApp": {"redis_claim_after": 5.0, "callback_attempts": 3},
            "RedisQueue": {"claim_after": 8.0},
        }
    )
    app = MuscodeApp(config=config, log=logging.getLogger(LOGGER))
    app.update_config(Config({"CallbackSender": {"attempts": 9}}))
    assert RedisQueue(REDIS_URL, parent=app).claim_after == 8.0
    assert app.config.CallbackSender.attempts == 9
    # Both spellings set to the same value: an intentional, compatible config is quiet.
    quiet = MuscodeApp(
        config=Config({"MuscodeApp": {"workers": 4}, "Queue": {"concurrency": 4}}),
        log=logging.getLogger(LOGGER),
    )
    assert quiet.config.Queue.concurrency == 4
    assert not any("ignored" in w and "workers" in w for w in _warnings(caplog))


def test_a_wrong_option_of_a_part_stops_the_start_naming_it(tmp_path: Path) -> None:
    app = _app(tmp_path)
    app.update_config(Config({"RunLimiter": {"user_rate": "lots"}}))
    with pytest.raises(StartupError, match=r"RunLimiter: .*user_rate='lots' is not a rate"):
        build_parts(app, consume=False)
    app = _app(tmp_path, redis_url=REDIS_URL)
    app.update_config(Config({"RedisQueue": {"claim_after": 0}}))
    with pytest.raises(StartupError, match="RedisQueue: claim_after must be positive"):
        build_parts(app, consume=False)
    app = _app(tmp_path, queue_class=RedisQueue)
    with pytest.raises(StartupError, match="RedisQueue needs Redis"):
        build_parts(app, consume=False)


# -- the worker -----------------------------------------------------------------------


async def test_config_reaches_the_parts_of_a_worker(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    redis_prefix: str,  # noqa: F811
) -> None:
    caplog.set_level(logging.WARNING, LOGGER)
    worker = WorkerApp(log=logging.getLogger(LOGGER))
    worker.parse_command_line(
        [
            f"--MuscodeApp.db_url=sqlite:///{tmp_path / 'w.sqlite'}",
            f"--redis-url={REDIS_URL}",
            f"--MuscodeApp.redis_prefix={redis_prefix}",
            "--workers=5",
            "--RedisQueue.claim_after=4",
            "--MuscodeApp.callback_attempts=3",
            "--RedisEventBus.retry_for=0.5",
            # The server's own settings are not the worker's business: no warning.
            "--MuscodeApp.jwt_secret=not-read-here",
        ]
    )
    settings = WorkerSettings.from_config(worker, str(tmp_path / "data"))
    parts = build_parts(settings, consume=True)
    try:
        assert isinstance(parts.queue, RedisQueue) and parts.queue.consume
        assert (parts.queue.concurrency, parts.queue.claim_after) == (5, 4.0)
        assert parts.queue.keys.prefix == redis_prefix
        assert getattr(parts.bus, "retry_for", None) == 0.5
        assert parts.callbacks.attempts == 3
        # The runner's hooks are given when it is built: the audit and the scoring.
        assert parts.runner.audit is parts.audit and parts.runner.on_done is not None
    finally:
        await _close(parts)
    messages = _warnings(caplog)
    assert any(
        "MuscodeApp.callback_attempts is deprecated: use CallbackSender" in w for w in messages
    )
    assert not any("jwt_secret" in w for w in messages)


@pytest.mark.timeout(240)
def test_a_worker_process_runs_with_the_options_given(
    tmp_path: Path,
    redis_prefix: str,  # noqa: F811
) -> None:
    need_bubblewrap()
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "muscode-worker"),
                f"--MuscodeApp.db_url=sqlite:///{tmp_path / 'w.sqlite'}",
                f"--MuscodeApp.redis_url={REDIS_URL}",
                f"--MuscodeApp.redis_prefix={redis_prefix}",
                "--MuscodeApp.workers=3",
                "--RedisQueue.claim_after=6",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(tmp_path),
        )
    try:
        deadline = time.monotonic() + 120
        # The worker's own line (its sandbox says "ready" before it).
        while not re.search(r"muscode-worker \S+ ready:", log_path.read_text(errors="replace")):
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the worker did not start in time"
            time.sleep(0.2)
        text = log_path.read_text(errors="replace")
        assert "MuscodeApp.workers is deprecated: use Queue.concurrency" in text
        assert "3 at a time" in text and "taken over after 6 s" in text, text[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, log_path.read_text(errors="replace")[-2000:]
