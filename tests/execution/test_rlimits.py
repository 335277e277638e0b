"""The rlimit lines both backends' shells run before the program: each shell's spelling."""

from __future__ import annotations

import resource
import shutil
import subprocess

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits
from muscode_ext.execution.rlimits import ShellUlimit, address_space_bytes, cpu_rlimits


def _limits_seen(sh: str, script: str) -> dict[str, tuple[str, str]]:
    """(soft, hard) per limit, as a child of ``sh`` sees them after ``script``."""
    out = subprocess.run(
        [sh, "-c", script + "exec cat /proc/self/limits"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    seen = {}
    for line in out.stdout.splitlines()[1:]:
        name, soft, hard = line[:26].strip(), *line[26:].split()[:2]
        seen[name] = (soft, hard)
    return seen


@pytest.mark.parametrize("shell", ["dash", "bash", "sh"])
def test_the_launchers_ulimit_lines_set_every_run_limit(shell: str) -> None:
    """A sandbox's shell sets a run's rlimits with its own ``ulimit``: each shell's
    options and units, soft below hard, nothing above what the server itself has."""
    sh = shutil.which(shell)
    if sh is None:
        pytest.skip(f"{shell} is not installed")
    ulimit = ShellUlimit.probe(sh)
    if shell != "sh":
        expected = {"dash": ("-p", 512), "bash": ("-u", 1024)}[shell]
        assert (ulimit.nproc_flag, ulimit.fsize_block) == expected
    nofile_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    script = "".join(
        line + "\n"
        for line in [
            ulimit.line(resource.RLIMIT_CPU, 4, 3),
            ulimit.line(resource.RLIMIT_FSIZE, 1024 * 1024),
            ulimit.line(resource.RLIMIT_NOFILE, nofile_hard + 100),
            ulimit.line(resource.RLIMIT_CORE, 0),
            ulimit.line(resource.RLIMIT_AS, 768 * 1024 * 1024),
            ulimit.line(resource.RLIMIT_NPROC, 321),
        ]
    )
    seen = _limits_seen(sh, script)
    assert seen["Max cpu time"] == ("3", "4")
    assert seen["Max file size"] == (str(1024 * 1024),) * 2
    # Asked for more than the server's hard limit: the server's, not an error.
    expected_nofile = "unlimited" if nofile_hard == resource.RLIM_INFINITY else str(nofile_hard)
    assert seen["Max open files"] == (expected_nofile,) * 2
    assert seen["Max core file size"] == ("0", "0")
    assert seen["Max address space"] == (str(768 * 1024 * 1024),) * 2
    assert seen["Max processes"] == ("321", "321")
    # A limit the shell cannot set ends the launch (exit 125) instead of running unlimited.
    failed = subprocess.run(
        [sh, "-c", "ulimit -t nonsense || exit 125\necho ran"], text=True, capture_output=True
    )
    assert failed.returncode == 125 and "ran" not in failed.stdout


def test_run_limits_spell_every_limit_of_a_run() -> None:
    """One run's lines: CPU with a watchdog's extra second, the rest as asked; the
    address space only for runtimes that do not manage their heap."""
    limits = Limits(cpu_time_ms=1500, memory_mb=100, file_size_kb=64)
    assert cpu_rlimits(limits, watchdog=False) == (2, 3)
    assert cpu_rlimits(limits, watchdog=True) == (3, 4)
    ulimit = ShellUlimit(within_own_limits=False)
    python = ulimit.run_limits(limits, DEFAULT_LANGUAGES["python"], watchdog=True, processes=9)
    assert python == [
        "ulimit -S -t 3 && ulimit -H -t 4 || exit 125",
        "ulimit -f 128 || exit 125",
        "ulimit -c 0 || exit 125",
        f"ulimit -v {address_space_bytes(limits) // 1024} || exit 125",
        "ulimit -p 9 || exit 125",
    ]
    java = ulimit.run_limits(limits, DEFAULT_LANGUAGES["java"], watchdog=True, open_files=64)
    assert "ulimit -n 64 || exit 125" in java
    assert not any(line.startswith("ulimit -v") for line in java)


def test_a_containers_limits_are_not_capped_by_the_servers() -> None:
    """In a container the engine set the limits: the server's own do not cap them."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("this process has no hard limit on open files")
    above = hard + 100
    assert ShellUlimit(within_own_limits=False).line(resource.RLIMIT_NOFILE, above) == (
        f"ulimit -n {above} || exit 125"
    )
    assert ShellUlimit().line(resource.RLIMIT_NOFILE, above) == f"ulimit -n {hard} || exit 125"
