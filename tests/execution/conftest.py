"""Fixtures for the sandbox tests: every backend, run synchronously, checked for leftovers.

``sandbox`` is parametrized over ``local`` and ``docker``. A backend that cannot run
here is skipped with the reason, except under ``CI=true``, where it fails: CI must run
the whole suite on both backends.

Each backend instance lives on one private event loop for the whole session (a pooled
backend keeps loop-bound resources); ``runner`` runs the engine on that loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from muscode_ext.execution import (
    DEFAULT_LANGUAGES,
    ExecutionOutcome,
    Job,
    Limits,
    LocalSandbox,
    Sandbox,
    SourceFile,
    TestCase,
    execute,
)
from muscode_ext.execution.base import OutputCallback, StdinSource

IN_CI = os.environ.get("CI") == "true"
SANDBOX_UID = 65534

#: Generous enough for javac on a busy 2-core machine.
COMPILE_LIMITS = Limits(cpu_time_ms=15_000, wall_time_ms=30_000, memory_mb=512, processes=64)
#: Small defaults so that the suite stays fast; tests that need more say so.
RUN_LIMITS = Limits(cpu_time_ms=2000, wall_time_ms=4000, memory_mb=256, processes=64, output_kb=64)

T = TypeVar("T")


def unavailable(what: str, why: str) -> None:
    """Skip locally, fail in CI (CI must run every backend)."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: every sandbox backend is required)")
    pytest.skip(message)


@dataclass
class Backend:
    sandbox: Sandbox
    loop: asyncio.AbstractEventLoop


def _make_local(loop: asyncio.AbstractEventLoop, tmp: Path) -> Sandbox:
    # The default work root: a private dir under the system temp dir (pytest's own temp
    # dirs are not searchable by the sandbox user).
    sandbox = LocalSandbox(work_dir_mb=32)
    loop.run_until_complete(sandbox.start())
    problem = loop.run_until_complete(sandbox.check())
    if problem is not None:
        loop.run_until_complete(sandbox.stop())
        unavailable("the local sandbox (bubblewrap)", problem)
    return sandbox


def _make_docker(loop: asyncio.AbstractEventLoop, tmp: Path) -> Sandbox:
    try:
        from muscode_ext.execution.docker import DockerSandbox
    except ImportError as exc:
        unavailable(
            "the docker sandbox", f"muscode_ext.execution.docker cannot be imported ({exc})"
        )
        raise  # unreachable: unavailable() skips or fails
    runtime = os.environ.get("MUSCODE_TEST_DOCKER_RUNTIME", "runc")
    sandbox = DockerSandbox(runtime=runtime)
    try:
        loop.run_until_complete(sandbox.start())
        problem = loop.run_until_complete(sandbox.check())
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        loop.run_until_complete(sandbox.stop())
        unavailable(f"the docker sandbox (runtime {runtime})", problem)
    return sandbox


@pytest.fixture(scope="session", params=["local", "docker"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    loop = asyncio.new_event_loop()
    try:
        tmp = tmp_path_factory.mktemp(f"sandbox-{request.param}")
        make = _make_local if request.param == "local" else _make_docker
        sandbox = make(loop, tmp)
        try:
            yield Backend(sandbox, loop)
        finally:
            loop.run_until_complete(sandbox.stop())
    finally:
        loop.close()


@pytest.fixture
def sandbox(backend: Backend) -> Sandbox:
    return backend.sandbox


class Runner:
    """Runs the engine on the backend's loop, synchronously, with test-friendly defaults."""

    def __init__(self, backend: Backend) -> None:
        self.sandbox = backend.sandbox
        self.loop = backend.loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def job(
        self,
        language: str,
        source: str | bytes | None = None,
        *,
        files: Mapping[str, str | bytes] | None = None,
        main: str | None = None,
        args: Sequence[str] = (),
        compiler_options: Sequence[str] = (),
        compile_limits: Limits = COMPILE_LIMITS,
    ) -> Job:
        lang = DEFAULT_LANGUAGES[language]
        if files is None:
            assert source is not None
            main = main or lang.main_path()
            files = {main: source}
        main = main or next(iter(files))
        return Job(
            language=lang,
            files=tuple(
                SourceFile(path, content.encode() if isinstance(content, str) else content)
                for path, content in files.items()
            ),
            main=main,
            args=tuple(args),
            compiler_options=tuple(compiler_options),
            compile_limits=compile_limits,
        )

    async def execute(
        self,
        job: Job,
        *,
        stdin: StdinSource = b"",
        limits: Limits = RUN_LIMITS,
        expected_output: str | None = None,
        tests: Sequence[TestCase] | None = None,
        on_output: OutputCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> ExecutionOutcome:
        return await execute(
            self.sandbox,
            job,
            limits=limits,
            stdin=stdin,
            expected_output=expected_output,
            tests=tests,
            on_output=on_output,
            cancel=cancel,
        )

    def run(
        self,
        language: str,
        source: str | bytes | None = None,
        *,
        stdin: str | bytes = b"",
        limits: Limits = RUN_LIMITS,
        expected_output: str | None = None,
        tests: Sequence[TestCase] | None = None,
        files: Mapping[str, str | bytes] | None = None,
        main: str | None = None,
        args: Sequence[str] = (),
        compiler_options: Sequence[str] = (),
        compile_limits: Limits = COMPILE_LIMITS,
    ) -> ExecutionOutcome:
        job = self.job(
            language,
            source,
            files=files,
            main=main,
            args=args,
            compiler_options=compiler_options,
            compile_limits=compile_limits,
        )
        data = stdin.encode() if isinstance(stdin, str) else stdin
        return self.call(
            self.execute(
                job, stdin=data, limits=limits, expected_output=expected_output, tests=tests
            )
        )


@pytest.fixture
def runner(backend: Backend) -> Runner:
    return Runner(backend)


def under_gvisor(runner: Runner) -> bool:
    """True when the runs go to the docker backend with gVisor's runsc runtime."""
    return getattr(runner.sandbox, "runtime", None) == "runsc"


# -- leftovers ------------------------------------------------------------------------


def _uid_processes(uid: int) -> dict[int, str]:
    """Live (non-zombie) processes of ``uid``: pid -> their state and cgroups."""
    found: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
            cgroups = Path(entry.path, "cgroup").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] != [str(uid)]:
            continue
        state = fields.get("State", "").strip()
        if state.startswith(("Z", "X")):
            continue  # already dead; its parent (maybe the host's init) reaps it
        ppid = fields.get("PPid", "").strip()
        found[int(entry.name)] = f"state {state}, parent {ppid}, cgroups {cgroups!r}"
    return found


def _foreign(cgroups: str) -> bool:
    """Processes of other tenants of this machine: containers, other servers' runs."""
    return "docker" in cgroups or "containerd" in cgroups or "/muscode-" in cgroups


def _local_leftovers(sandbox: LocalSandbox, before: set[int]) -> list[str]:
    problems: list[str] = []
    root = sandbox.job_root
    if root is not None and root.exists():
        left = sorted(p.name for p in root.iterdir())
        if left:
            problems.append(f"files left in the work root {root}: {left}")
    cgroups = sandbox._cgroups  # the test looks inside on purpose
    tokens: list[str] = []
    if cgroups is not None:
        idle = sandbox.idle_cgroups()
        for parent in cgroups.parents.values():
            tokens.append(parent.name)
            # Launchers parked for the next runs are expected; nothing else.
            runs = sorted(p.name for p in parent.glob("run-*") if p.name not in idle)
            if runs:
                problems.append(f"run cgroups of no parked launcher left in {parent}: {runs}")
            if len(idle) > sandbox.prestart:
                problems.append(f"more parked launchers than prestart: {sorted(idle)}")
    # Parked launchers have dropped to the sandbox user already; they are expected.
    parked = sandbox.parked_pids()
    for pid, membership in _uid_processes(SANDBOX_UID).items():
        if pid in parked:
            continue
        if any(token in membership for token in tokens):
            problems.append(f"process {pid} is still in the sandbox's cgroups: {membership}")
        elif pid not in before and not _foreign(membership):
            problems.append(f"new process {pid} of uid {SANDBOX_UID}: {membership}")
    return problems


def _docker_leftovers(backend: Backend, before: set[int]) -> list[str]:
    problems = [
        f"new process {pid} of uid {SANDBOX_UID} outside any container: {membership}"
        for pid, membership in _uid_processes(SANDBOX_UID).items()
        if pid not in before and not _foreign(membership)
    ]
    # The backend's own account of its containers: any that is not idle in its warm
    # pool is a leftover of a run.
    list_containers = getattr(backend.sandbox, "leftover_containers", None)
    if list_containers is not None:
        names = backend.loop.run_until_complete(list_containers())
        problems += [f"container left behind: {name}" for name in names]
    return problems


def leftovers(backend: Backend, before: set[int]) -> list[str]:
    if isinstance(backend.sandbox, LocalSandbox):
        return _local_leftovers(backend.sandbox, before)
    return _docker_leftovers(backend, before)


@pytest.fixture
def no_leftovers(backend: Backend) -> Iterator[None]:
    """After the test: no process, no file, no cgroup (container) of any run remains."""
    before = set(_uid_processes(SANDBOX_UID))
    yield
    # Teardown in the kernel (pid namespace, cgroup) is asynchronous by a few ms.
    deadline = time.monotonic() + 3
    problems = leftovers(backend, before)
    while problems and time.monotonic() < deadline:
        time.sleep(0.05)
        problems = leftovers(backend, before)
    assert not problems, "\n".join(problems)
