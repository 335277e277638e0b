"""Each backend owns its settings as traits: from config (``c.LocalSandbox.work_dir_mb``)
through ``parent=``, or as keyword arguments, checked, and reaching what programs see."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from traitlets import TraitError
from traitlets.config import Config, LoggingConfigurable

from muscode_ext.execution import DEFAULT_LANGUAGES, Job, Limits, LocalSandbox, SourceFile, execute

from .conftest import unavailable

pytestmark = pytest.mark.timeout(180)

RUNTIME = os.environ.get("MUSCODE_TEST_DOCKER_RUNTIME", "runc")

# Prints the size of /tmp and of the work dir in MiB, and the open files limit.
SEEN = b"""
import os, resource
def mib(path):
    st = os.statvfs(path)
    return st.f_blocks * st.f_frsize // (1024 * 1024)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
print(mib("/tmp"), mib("."), soft, hard)
"""
JOB = Job(
    language=DEFAULT_LANGUAGES["python"],
    files=(SourceFile("main.py", SEEN),),
    main="main.py",
)


def parent_with(**settings: dict[str, Any]) -> LoggingConfigurable:
    """An application-like parent whose config holds ``settings`` per class."""
    config = Config()
    for section, values in settings.items():
        for name, value in values.items():
            setattr(config[section], name, value)
    return LoggingConfigurable(config=config)


def test_local_settings_come_from_config_and_reach_the_program() -> None:
    parent = parent_with(LocalSandbox={"work_dir_mb": 24, "open_files": 100, "prestart": 1})
    sandbox = LocalSandbox(parent=parent)
    assert (sandbox.work_dir_mb, sandbox.open_files, sandbox.prestart) == (24, 100, 1)

    async def scenario() -> str:
        try:
            problem = await sandbox.check()
            if problem is not None:
                unavailable("the local sandbox (bubblewrap)", problem)
            result = await execute(sandbox, JOB, limits=Limits())
            assert result.verdict == "accepted", result
            return result.stdout
        finally:
            await sandbox.stop()

    assert asyncio.run(scenario()).split() == ["24", "24", "100", "100"]


def test_local_settings_are_checked() -> None:
    assert LocalSandbox(allow_unsafe=True, work_dir_mb=8).allow_unsafe  # keywords work
    for bad in ({"work_dir_mb": 0}, {"open_files": 3}, {"prestart": -1}):
        with pytest.raises(TraitError):
            LocalSandbox(**bad)
    for path in ("opt/jdk", "/", "/opt/../etc"):
        with pytest.raises(TraitError):
            LocalSandbox(extra_ro_binds=[path])
    assert LocalSandbox(extra_ro_binds=("/opt/jdk",)).extra_ro_binds == ["/opt/jdk"]


def test_every_setting_is_documented_on_the_command_line() -> None:
    from muscode_ext.execution.docker import DockerSandbox

    local_help = LocalSandbox.class_get_help()
    for name in ("allow_unsafe", "work_root", "work_dir_mb", "open_files", "extra_ro_binds"):
        assert f"--LocalSandbox.{name}" in local_help
    docker_help = DockerSandbox.class_get_help()
    for name in ("runtime", "image", "pool_size", "docker_url", "work_root", "work_dir_mb"):
        assert f"--DockerSandbox.{name}" in docker_help


def test_docker_settings_default_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    from muscode_ext.execution.docker import DockerSandbox

    monkeypatch.delenv("MUSCODE_DOCKER_WORK_ROOT", raising=False)
    sandbox = DockerSandbox()
    assert (sandbox.runtime, sandbox.image, sandbox.pool_size) == ("runc", None, 2)
    assert (sandbox.docker_url, sandbox.work_root) == (None, None)
    monkeypatch.setenv("MUSCODE_DOCKER_WORK_ROOT", "/var/lib/muscode/runs")
    assert DockerSandbox().work_root == "/var/lib/muscode/runs"
    # What the application passes today keeps working.
    explicit = DockerSandbox(runtime="runsc", image=None, pool_size=0, docker_url=None)
    assert (explicit.runtime, explicit.pool_size) == ("runsc", 0)
    for bad in ({"pool_size": -1}, {"work_dir_mb": 0}, {"open_files": 3}, {"runtime": ""}):
        with pytest.raises(TraitError):
            DockerSandbox(**bad)


def test_docker_settings_come_from_config_and_reach_the_containers() -> None:
    from muscode_ext.execution.docker import DockerSandbox

    parent = parent_with(
        DockerSandbox={"runtime": RUNTIME, "pool_size": 1, "work_dir_mb": 24, "open_files": 100}
    )
    sandbox = DockerSandbox(parent=parent)
    assert (sandbox.pool_size, sandbox.work_dir_mb, sandbox.open_files) == (1, 24, 100)

    async def scenario() -> tuple[int, str]:
        try:
            try:
                await sandbox.start()
                problem = await sandbox.check()
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if problem is not None:
                unavailable(f"the docker sandbox (runtime {RUNTIME})", problem)
            # The warm pool of the default profile holds pool_size started containers.
            for pool in sandbox.pools or ():
                if pool.tasks:
                    await asyncio.wait(list(pool.tasks))
            idle = sum(len(pool.idle) for pool in sandbox.pools or ())
            result = await execute(sandbox, JOB, limits=Limits())
            assert result.verdict == "accepted", result
            return idle, result.stdout
        finally:
            await sandbox.stop()

    idle, stdout = asyncio.run(scenario())
    assert idle == 1
    assert stdout.split() == ["24", "24", "100", "100"]
