"""Hostile programs (issue 3): each is contained, gets the right verdict, leaves nothing.

Every test runs on every backend and is checked by ``no_leftovers``: no process of the
sandbox user, no run cgroup, no file in the work root (no container for docker).
Limits are small so that the suite stays fast; no test aims at an address off this
machine (only 127.0.0.1 of the sandbox's own network namespace).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from muscode_ext.execution import ExecutionOutcome, Limits

from .conftest import Runner, under_gvisor

pytestmark = [pytest.mark.usefixtures("no_leftovers"), pytest.mark.timeout(90)]

QUICK = Limits(cpu_time_ms=1000, wall_time_ms=2000, memory_mb=128, processes=32, output_kb=64)
BOMB_COMPILE = Limits(cpu_time_ms=2000, wall_time_ms=4000, memory_mb=256, processes=32)
REPO = Path(__file__).resolve().parents[2]


def timed(runner: Runner, *args: object, **kwargs: object) -> tuple[ExecutionOutcome, float]:
    t0 = time.monotonic()
    result = runner.run(*args, **kwargs)  # type: ignore[arg-type]
    return result, time.monotonic() - t0


# -- fork bombs ------------------------------------------------------------------------

# Starts a shell fork bomb whose processes stay (each forks two and sleeps), so that
# the population is stable and can be counted: listing /proc is not atomic, and with a
# bomb whose processes come and go one listing can count a slot twice.
SHELL_BOMB = """
import os, subprocess, time
subprocess.Popen(["sh", "-c", "exec 2>/dev/null; b() { b & b & sleep 1000; }; b"])
time.sleep(1.0)
print("count", sum(1 for p in os.listdir("/proc") if p.isdigit()), flush=True)
time.sleep(100)
"""


def test_shell_fork_bomb(runner: Runner) -> None:
    limits = Limits(cpu_time_ms=5000, wall_time_ms=2000, memory_mb=128, processes=32)
    result, took = timed(runner, "python", SHELL_BOMB, limits=limits)
    assert result.verdict == "time_limit_exceeded", result
    seen = int(result.stdout.split()[1])
    # The bomb multiplied, but never past the program's processes plus the sandbox's
    # init (pid 1). (Shells whose fork fails give up, so it settles below the cap.)
    assert 8 < seen <= limits.processes + 1, seen
    assert took < 10


def test_process_limit(runner: Runner) -> None:
    source = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    while n < 500:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as exc:\n"
        "    print('refused', exc.strerror)\n"
        "print('children', n, flush=True)\n"
    )
    # Memory to spare, so the process cap is the only limit reached: under gVisor each
    # forked Python privately holds about 3.5 MB (see test_python_fork_bomb), and 32 of
    # them came within a few KB of 128 MB.
    limits = Limits(cpu_time_ms=2000, wall_time_ms=5000, memory_mb=256, processes=32)
    result = runner.run("python", source, limits=limits)
    # The program exits; its sleeping children die with the sandbox.
    assert result.verdict == "accepted", result
    assert "refused" in result.stdout
    children = int(result.stdout.split("children ")[1])
    assert limits.processes // 2 <= children < limits.processes, children


def test_python_fork_bomb(runner: Runner) -> None:
    source = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    )
    result, took = timed(runner, "python", source, limits=QUICK)
    if under_gvisor(runner):
        # gVisor breaks copy-on-write in 2 MB units (Linux: 4 KB pages), so each forked
        # Python privately holds about 3.5 MB there: the bomb's 32 processes need
        # 150-190 MB (measured) and the memory limit may stop it before its CPU second.
        assert result.verdict in ("memory_limit_exceeded", "time_limit_exceeded"), result
    else:
        assert result.verdict == "time_limit_exceeded", result
    assert took < 10


def test_c_fork_bomb(runner: Runner) -> None:
    source = "#include <unistd.h>\nint main(void) { for (;;) fork(); }"
    result, took = timed(runner, "c", source, limits=QUICK)
    assert result.verdict == "time_limit_exceeded", result
    assert took < 15


def test_java_thread_bomb(runner: Runner) -> None:
    source = """
public class Main {
  public static void main(String[] a) {
    int n = 0;
    try {
      while (true) {
        Thread t = new Thread(() -> { try { Thread.sleep(1_000_000); } catch (Exception e) {} });
        t.start();
        n++;
      }
    } finally { System.out.println("threads " + n); }
  }
}"""
    limits = Limits(cpu_time_ms=3000, wall_time_ms=3000, memory_mb=256, processes=64)
    result, _ = timed(runner, "java", source, limits=limits)
    # The threads it did start sleep forever: the wall clock must stop it. It is not a
    # memory verdict even though Java calls the failure an OutOfMemoryError.
    assert result.verdict == "time_limit_exceeded", result
    started = int(result.stdout.split("threads ")[1].split()[0])
    assert started < limits.processes
    assert "unable to create native thread" in result.stderr


# -- memory bombs ----------------------------------------------------------------------

MEMORY_BOMBS = {
    "python-touched": ("python", "x = []\nwhile True:\n    x.append(b'x' * (8 << 20))"),
    "python-huge": ("python", "x = b'x' * (1 << 34)"),
    "c-touched": (
        "c",
        "#include <stdlib.h>\n#include <string.h>\nint main(void) { for (;;) {"
        " char *p = malloc(1 << 20); if (!p) return 3; memset(p, 1, 1 << 20); } }",
    ),
    "c-untouched": (
        "c",
        "#include <stdio.h>\n#include <stdlib.h>\nint main(void) { for (;;) {"
        ' if (!malloc(100 << 20)) { perror("malloc"); return 1; } } }',
    ),
    "cpp-new": (
        "cpp",
        "#include <vector>\nint main() { std::vector<char> v(1ull << 36); return v[7]; }",
    ),
    "java-heap": (
        "java",
        "import java.util.*;\npublic class Main { public static void main(String[] a) {"
        " List<long[]> l = new ArrayList<>(); while (true) l.add(new long[1 << 20]); } }",
    ),
    "node-heap": (
        "javascript",
        "const a = []; while (true) a.push(new Array(1e6).fill(1.5));",
    ),
    "php-string": (
        "php",
        "<?php $a = []; while (true) { $a[] = str_repeat('x', 8 << 20); }",
    ),
}


@pytest.mark.parametrize("case", sorted(MEMORY_BOMBS))
def test_memory_bomb(runner: Runner, case: str) -> None:
    language, source = MEMORY_BOMBS[case]
    limits = Limits(cpu_time_ms=5000, wall_time_ms=8000, memory_mb=128, processes=64)
    result, took = timed(runner, language, source, limits=limits)
    assert result.verdict == "memory_limit_exceeded", result
    assert result.memory_kb is not None and result.memory_kb <= 128 * 1024 + 1024
    assert took < 20


# -- time ------------------------------------------------------------------------------

LOOPS = {
    "python": "while True:\n    pass",
    "javascript": "for (;;) {}",
    "java": "public class Main { public static void main(String[] a) { while (true) {} } }",
    "c": "int main(void) { for (;;); }",
    "cpp": "int main() { volatile long i = 0; for (;;) ++i; }",
    "php": "<?php while (true) {}",
}


@pytest.mark.parametrize("language", sorted(LOOPS))
def test_infinite_loop(runner: Runner, language: str) -> None:
    limits = Limits(cpu_time_ms=500, wall_time_ms=5000, memory_mb=256)
    result = runner.run(language, LOOPS[language], limits=limits)
    assert result.verdict == "time_limit_exceeded", result
    assert result.time_ms is not None and result.time_ms >= 500
    # stopped by its CPU limit, long before the wall clock would have
    assert result.wall_time_ms is not None and result.wall_time_ms < 4000


def test_sleep_past_the_wall_limit(runner: Runner) -> None:
    result, took = timed(runner, "python", "import time\ntime.sleep(100)", limits=QUICK)
    assert result.verdict == "time_limit_exceeded", result
    assert result.wall_time_ms is not None and 2000 <= result.wall_time_ms < 3500
    assert took < 6


def test_sigstop_to_the_process_group(runner: Runner) -> None:
    source = (
        "import os, signal\n"
        "print('stopping', flush=True)\n"
        "if os.fork() == 0:\n"
        "    os.kill(os.getpid(), signal.SIGSTOP)\n"
        "os.killpg(0, signal.SIGSTOP)\n"
        "print('never')"
    )
    result, took = timed(runner, "python", source, limits=QUICK)
    assert result.verdict == "time_limit_exceeded", result
    assert result.stdout == "stopping\n"
    assert took < 6


def test_ignoring_sigterm(runner: Runner) -> None:
    source = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        "os.fork()\n"
        "while True:\n"
        "    time.sleep(0.05)"
    )
    result, took = timed(runner, "python", source, limits=QUICK)
    assert result.verdict == "time_limit_exceeded", result
    assert took < 6


# -- escaping the run ------------------------------------------------------------------


def test_double_forked_daemon_and_nohup_children(runner: Runner) -> None:
    source = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(1000)\n"  # a daemon, holding our stdout open
        "    os._exit(0)\n"
        "os.system('nohup sleep 1000 >/dev/null 2>&1 &')\n"
        "os.system('setsid sleep 1000 </dev/null >/dev/null 2>&1 &')\n"
        "time.sleep(0.2)\n"
        "print('parent done')"
    )
    limits = Limits(cpu_time_ms=2000, wall_time_ms=10_000, memory_mb=128, processes=32)
    result, took = timed(runner, "python", source, limits=limits)
    # The program itself finished cleanly and promptly; its children die with it.
    assert result.verdict == "accepted", result
    assert result.stdout == "parent done\n"
    assert took < 5


# -- output floods ---------------------------------------------------------------------

FLOODS = {
    "stdout": "import sys\nwhile True:\n    sys.stdout.write('x' * 1000)",
    "stderr": "import sys\nwhile True:\n    sys.stderr.write('e' * 1000)",
    "one-line": "import sys\nsys.stdout.write('y' * (16 << 20))",
    "binary": "import os, sys\nwhile True:\n    sys.stdout.buffer.write(os.urandom(4096))",
    "both": "import sys\nwhile True:\n    print('o' * 100)\n    print('e' * 100, file=sys.stderr)",
    "c-puts": '#include <stdio.h>\nint main(void) { for (;;) puts("flood"); }',
}


@pytest.mark.parametrize("case", sorted(FLOODS))
def test_output_flood(runner: Runner, case: str) -> None:
    language = "c" if case.startswith("c-") else "python"
    result, took = timed(runner, language, FLOODS[case], limits=QUICK)
    assert result.verdict == "output_limit_exceeded", result
    cap = QUICK.output_kb * 1024
    kept = len(result.stdout.encode()) + len(result.stderr.encode())
    if case == "binary":
        kept = cap  # replacement characters change the length; check the flags only
    else:
        # What was printed up to the cap is kept.
        assert cap // 2 <= kept <= cap, kept
    assert result.truncated["stdout"] or result.truncated["stderr"]
    if case == "stderr":
        assert result.truncated == {"stdout": False, "stderr": True}
    if case in ("stdout", "one-line", "binary", "c-puts"):
        assert result.truncated["stdout"]
    json.dumps(result.as_dict())  # always serialisable, whatever the bytes were
    assert took < 5


def test_a_long_line_arrives_whole(runner: Runner) -> None:
    # One write() of 300 KB: Python run unbuffered does not retry a short write, so the
    # sandbox's pipes must take it all at once, as Linux pipes do.
    limits = Limits(cpu_time_ms=2000, wall_time_ms=4000, memory_mb=128, output_kb=1024)
    source = "import sys\nsys.stdout.write('a' * 300_000)\nsys.stderr.write('b' * 200_000)"
    result = runner.run("python", source, limits=limits)
    assert result.verdict == "accepted", result
    assert result.stdout == "a" * 300_000
    assert result.stderr == "b" * 200_000


def test_output_exactly_at_the_cap_is_not_truncated(runner: Runner) -> None:
    cap = QUICK.output_kb * 1024
    result = runner.run("python", f"import sys\nsys.stdout.write('z' * {cap})", limits=QUICK)
    assert result.verdict == "accepted", result
    assert len(result.stdout) == cap
    assert result.truncated == {"stdout": False, "stderr": False}


# -- disks -----------------------------------------------------------------------------

DISK_FILL = r"""
import json, os
places = [".", "/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"),
          "/", "/usr", "/etc", "/dev", "/proc", "/root"]
result = {}
for place in places:
    written, error, i = 0, None, 0
    try:
        while written < (512 << 20):
            with open(os.path.join(place, f"fill{i}"), "wb") as f:
                f.write(b"z" * (1 << 20))
            written += 1 << 20
            i += 1
    except OSError as exc:
        error = exc.strerror
    result[place] = [written, error]
print(json.dumps(result))
"""


def test_disk_fill_in_every_writable_place(runner: Runner) -> None:
    limits = Limits(
        cpu_time_ms=8000, wall_time_ms=15_000, memory_mb=512, processes=16, file_size_kb=2048
    )
    result = runner.run("python", DISK_FILL, limits=limits)
    assert result.verdict == "accepted", result
    places = json.loads(result.stdout)
    for place, (written, error) in places.items():
        # Every place either refuses writes or fills up well before the 512 MB the
        # program tries: nothing writable is unbounded.
        assert error is not None, (place, written)
        assert written <= 256 << 20, (place, written)
    for read_only in ("/", "/usr", "/etc"):
        assert places[read_only][0] == 0, places[read_only]


def test_file_size_limit(runner: Runner) -> None:
    source = (
        '#include <stdio.h>\nint main(void) { FILE *f = fopen("big", "w");'
        ' for (int i = 0; i < 100000; i++) fwrite("0123456789abcdef", 1, 16, f);'
        ' fclose(f); puts("done"); return 0; }'
    )
    result = runner.run("c", source, limits=Limits(file_size_kb=64, memory_mb=128))
    assert result.verdict == "runtime_error", result
    assert result.signal == signal.SIGXFSZ
    assert "file" in (result.message or "")
    assert "done" not in result.stdout


def test_inode_exhaustion(runner: Runner) -> None:
    source = (
        "import os\nn = 0\ntry:\n"
        "    while n < 2_000_000:\n"
        "        open(f'/tmp/f{n}', 'w').close()\n"
        "        n += 1\n"
        "except OSError as exc:\n"
        "    print('stopped', n, exc.strerror)\n"
    )
    limits = Limits(cpu_time_ms=4000, wall_time_ms=8000, memory_mb=128, processes=16)
    result = runner.run("python", source, limits=limits)
    # Whichever bound comes first: the tmpfs runs out of inodes (the program sees the
    # error and stops) or the inodes' kernel memory reaches the memory limit, or time.
    assert result.verdict in {
        "accepted",
        "memory_limit_exceeded",
        "time_limit_exceeded",
    }, result
    if result.verdict == "accepted":
        assert result.stdout.startswith("stopped"), result


# -- network ---------------------------------------------------------------------------

NETWORK = r"""
import json, socket, time
report = {"interfaces": sorted(name for _, name in socket.if_nameindex())}
for port in (5432, 6379):  # the host's PostgreSQL and Redis, on the host's loopback
    t0 = time.monotonic()
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        report[port] = ["connected", 0]
    except OSError as exc:
        report[port] = [type(exc).__name__, time.monotonic() - t0]
print(json.dumps(report))
"""


def test_network_is_loopback_only(runner: Runner) -> None:
    result = runner.run("python", NETWORK)
    assert result.verdict == "accepted", result
    report = json.loads(result.stdout)
    assert report["interfaces"] == ["lo"]
    for port in ("5432", "6379"):
        outcome, seconds = report[port]
        assert outcome == "ConnectionRefusedError", report
        assert seconds < 1, report


# -- secrets ---------------------------------------------------------------------------

SNOOP = r"""
import json, os, sys
report = {"env": dict(os.environ), "files": {}, "cmdlines": [], "environs": []}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            report["files"][path] = ["listed", os.listdir(path)]
        else:
            report["files"][path] = ["read", open(path, "rb").read(200).decode("latin-1")]
    except OSError as exc:
        report["files"][path] = ["error", type(exc).__name__]
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    for name, key in (("cmdline", "cmdlines"), ("environ", "environs")):
        try:
            report[key].append(open(f"/proc/{pid}/{name}", "rb").read().decode("latin-1"))
        except OSError:
            pass
print(json.dumps(report))
"""


def test_host_files_and_environment_are_invisible(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "muscode-secret-" + os.urandom(8).hex()
    monkeypatch.setenv("MUSCODE_TEST_SECRET", secret)
    paths = [
        "/etc/shadow",
        "/root",
        str(REPO),
        str(REPO / "pyproject.toml"),
        "/home",
        f"/proc/{os.getpid()}/environ",
        "/var/run/docker.sock",
        "/run/postgresql",
    ]
    result = runner.run("python", SNOOP, args=paths)
    assert result.verdict == "accepted", result
    assert secret not in result.stdout
    report = json.loads(result.stdout)
    assert "MUSCODE_TEST_SECRET" not in report["env"]
    assert set(report["env"]) <= {
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TMPDIR",
        "PWD",
        "HOSTNAME",
        "TERM",
        "SHLVL",
        "_",
    }, report["env"]
    for path, (how, what) in report["files"].items():
        # Either invisible, or (the root's home) visible but empty.
        assert how == "error" or (how == "listed" and what == []), (path, how, what)
    # Only the sandbox's own processes are visible: none of them is this test run.
    assert not any("pytest" in line for line in report["cmdlines"]), report["cmdlines"]
    assert len(report["cmdlines"]) <= 5


# -- planted links and FIFOs -----------------------------------------------------------


def test_symlinks_hardlinks_and_fifos_planted_for_the_host(runner: Runner, tmp_path: Path) -> None:
    canary_dir = tmp_path / "canary"
    canary_dir.mkdir()
    canary = canary_dir / "precious.txt"
    canary.write_text("do not touch")
    plant = (
        f"ln -s {canary} evil; ln -s {canary_dir} evildir; ln -s / root;"
        " mkfifo fifo; ln main.c hard 2>/dev/null; mkdir sub; ln -s /etc/shadow sub/shadow;"
        f" ln -s {canary} /tmp/evil; mkfifo /tmp/fifo;"
        ' exec "$0" "$@"'
    )
    source = r"""
#include <stdio.h>
#include <dirent.h>
int main(void) {
    FILE *f = fopen("evil", "r");
    char buf[64] = "";
    if (f) { fgets(buf, sizeof buf, f); fclose(f); }
    printf("evil:%s\n", buf);
    f = fopen("evildir/new.txt", "w");
    if (f) { fputs("owned", f); fclose(f); }
    return 0;
}"""
    result = runner.run(
        "c",
        source,
        # gcc runs each of its steps under the -wrapper command: hostile code at
        # compile time, planting links and FIFOs in the compile dir.
        compiler_options=["-wrapper", "/bin/sh,-c," + plant],
        limits=QUICK,
    )
    assert result.verdict == "accepted", result
    assert result.stdout == "evil:\n"  # the canary was not reachable from the run
    assert canary.read_text() == "do not touch"
    assert sorted(p.name for p in canary_dir.iterdir()) == ["precious.txt"]

    # The same, planted by the run itself in every writable place.
    run_plant = (
        "import os\n"
        f"for d in ('.', '/tmp', '/dev/shm'):\n"
        f"    os.symlink({str(canary)!r}, os.path.join(d, 'evil'))\n"
        f"    os.symlink({str(canary_dir)!r}, os.path.join(d, 'evildir'))\n"
        "    os.mkfifo(os.path.join(d, 'fifo'))\n"
        "    try:\n"
        "        os.link('main.py', os.path.join(d, 'hard'))\n"
        "    except OSError:\n"
        "        pass\n"
        "print('planted')"
    )
    result = runner.run("python", run_plant, limits=QUICK)
    assert result.verdict == "accepted", result
    assert canary.read_text() == "do not touch"
    assert sorted(p.name for p in canary_dir.iterdir()) == ["precious.txt"]


# -- compile-time bombs ----------------------------------------------------------------


def test_include_dev_random(runner: Runner) -> None:
    result, took = timed(
        runner,
        "c",
        "#include </dev/random>\nint main(void) { return 0; }",
        compile_limits=BOMB_COMPILE,
    )
    assert result.verdict == "compile_error", result
    assert "Compilation stopped" in (result.compile_output or "")
    assert took < 15


def test_template_explosion(runner: Runner) -> None:
    source = """
#include <utility>
template <class T, int N> struct B { typedef typename B<std::pair<T, T>, N - 1>::type type; };
template <class T> struct B<T, 0> { typedef T type; };
int main() { B<int, 40>::type x; (void)x; }
"""
    result, took = timed(runner, "cpp", source, compile_limits=BOMB_COMPILE)
    assert result.verdict == "compile_error", result
    assert took < 15


def test_compiler_error_flood_is_capped(runner: Runner) -> None:
    source = "int main(void) {\n" + "undefined_thing;\n" * 20000 + "}\n"
    limits = Limits(cpu_time_ms=10_000, wall_time_ms=20_000, memory_mb=256, output_kb=16)
    result = runner.run("c", source, compile_limits=limits)
    assert result.verdict == "compile_error", result
    assert len((result.compile_output or "").encode()) <= 16 * 1024 + 1024


# -- shell metacharacters --------------------------------------------------------------

NASTY = [
    "$(touch /tmp/pwned)",
    "`id`",
    "; rm -rf ~",
    "&& echo hi",
    "| cat /etc/passwd",
    "a b\tc",
    "*",
    "'\"",
    "\\",
    "--help",
    "",
    "ünïcødé ✓",
    "> /tmp/x",
]


def test_shell_metacharacters_in_arguments(runner: Runner) -> None:
    source = "import json, os, sys\nprint(json.dumps([sys.argv[1:], os.path.exists('/tmp/pwned')]))"
    result = runner.run("python", source, args=NASTY)
    assert result.verdict == "accepted", result
    assert json.loads(result.stdout) == [NASTY, False]


def test_shell_metacharacters_in_compiler_options(runner: Runner) -> None:
    text = "hi;$(touch /tmp/pwned)`id`|cat && rm -rf / #"
    source = (
        "#include <stdio.h>\n#include <unistd.h>\n"
        "int main(int argc, char **argv) {"
        ' printf("%s|%d\\n", GREETING, access("/tmp/pwned", 0) == 0);'
        ' for (int i = 1; i < argc; i++) printf("[%s]", argv[i]); return 0; }'
    )
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    result = runner.run(
        "c",
        source,
        compiler_options=[f'-DGREETING="{escaped}"', "-O1"],
        args=["$(id)", "; ls"],
    )
    assert result.verdict == "accepted", result
    assert result.stdout == f"{text}|0\n[$(id)][; ls]"


def test_bad_compiler_option_is_a_compile_error(runner: Runner) -> None:
    result = runner.run("c", "int main(void){return 0;}", compiler_options=["--no-such-flag;id"])
    assert result.verdict == "compile_error", result
    assert "no-such-flag;id" in (result.compile_output or "")


# -- neighbours ------------------------------------------------------------------------

NEIGHBOUR_A = r"""
import os, socket, time
for d in (".", "/tmp", "/dev/shm"):
    open(os.path.join(d, "marker-of-a"), "w").write("A was here")
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", 40555)); tcp.listen()
unix = socket.socket(socket.AF_UNIX); unix.bind("\0muscode-neighbour"); unix.listen()
print("ready", os.getpid(), flush=True)
time.sleep(2.5)
"""

NEIGHBOUR_B = r"""
import json, os, socket, time
time.sleep(0.5)
found = []
for d in (".", "/tmp", "/dev/shm"):
    if os.path.exists(os.path.join(d, "marker-of-a")):
        found.append("file in " + d)
try:
    socket.create_connection(("127.0.0.1", 40555), timeout=1).close(); found.append("tcp")
except OSError:
    pass
try:
    s = socket.socket(socket.AF_UNIX); s.connect("\0muscode-neighbour"); found.append("unix")
except OSError:
    pass
for pid in (p for p in os.listdir("/proc") if p.isdigit()):
    try:
        if b"marker-of-a" in open(f"/proc/{pid}/cmdline", "rb").read() or \
           b"40555" in open(f"/proc/{pid}/cmdline", "rb").read():
            found.append("process " + pid)
    except OSError:
        pass
print(json.dumps(found))
"""


def test_concurrent_runs_cannot_see_each_other(runner: Runner) -> None:
    limits = Limits(cpu_time_ms=3000, wall_time_ms=8000, memory_mb=128, processes=16)
    job_a = runner.job("python", NEIGHBOUR_A)
    job_b = runner.job("python", NEIGHBOUR_B)

    async def both() -> tuple[ExecutionOutcome, ExecutionOutcome]:
        return await asyncio.gather(
            runner.execute(job_a, limits=limits), runner.execute(job_b, limits=limits)
        )

    a, b = runner.call(both())
    assert a.verdict == "accepted" and a.stdout.startswith("ready"), a
    assert b.verdict == "accepted", b
    assert json.loads(b.stdout) == []


# -- privileges ------------------------------------------------------------------------

PRIVILEGES = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
report = {k: status[k].split() for k in ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd")}
# Asked of the kernel itself: gVisor's /proc/self/status has no NoNewPrivs line.
report["no_new_privs"] = libc.prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
try:
    os.setuid(0)
    report["setuid"] = "worked"
except OSError as exc:
    report["setuid"] = type(exc).__name__
report["mount"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)
print(json.dumps(report))
"""


def test_unprivileged_user_without_capabilities(runner: Runner) -> None:
    result = runner.run("python", PRIVILEGES)
    assert result.verdict == "accepted", result
    report = json.loads(result.stdout)
    assert set(report["Uid"]) != {"0"} and "0" not in report["Uid"], report
    assert int(report["CapEff"][0], 16) == 0 and int(report["CapPrm"][0], 16) == 0
    assert report["no_new_privs"] == 1
    # EPERM, or EINVAL where uid 0 does not even exist in the sandbox's user namespace
    assert report["setuid"] in ("PermissionError", "OSError"), report
    assert report["mount"] == -1


SYSCALLS = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    struct { const char *name; long nr; } calls[] = {
        {"bpf", SYS_bpf}, {"keyctl", SYS_keyctl}, {"add_key", SYS_add_key},
        {"perf_event_open", SYS_perf_event_open}, {"userfaultfd", SYS_userfaultfd},
        {"io_uring_setup", SYS_io_uring_setup}, {"ptrace", SYS_ptrace},
        {"unshare", SYS_unshare}, {"mount", SYS_mount}, {"getpid", SYS_getpid},
    };
    for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        errno = 0;
        long r = syscall(calls[i].nr, 0, 0, 0, 0, 0, 0);
        printf("%s %ld %d\n", calls[i].name, r, errno);
    }
    return 0;
}
"""


def syscall_results(runner: Runner) -> dict[str, tuple[int, int]]:
    result = runner.run("c", SYSCALLS)
    assert result.verdict == "accepted", result
    return {
        name: (int(ret), int(err))
        for name, ret, err in (line.split() for line in result.stdout.splitlines())
    }


def test_kernel_attack_surface_syscalls_are_refused(runner: Runner) -> None:
    results = syscall_results(runner)
    # What every hardened backend refuses (Docker's default profile, gVisor, ours).
    for name in ("bpf", "keyctl", "add_key", "perf_event_open", "userfaultfd", "mount"):
        assert results[name][0] == -1, (name, results[name])
    assert results["getpid"][0] > 0


def test_kill_everything_cannot_reach_another_run(runner: Runner) -> None:
    # Every run is the same user on the host: only the pid namespace keeps kill(-1)
    # (and pkill, kill -9 -1) inside one run.
    victim = runner.job("python", "import time\ntime.sleep(1.5)\nprint('alive')")
    killer = runner.job(
        "python",
        "import os, signal, time\n"
        "end = time.time() + 1.0\n"
        "while time.time() < end:\n"
        "    try:\n"
        "        os.kill(-1, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(0.01)\n"
        "print('done')",
    )
    limits = Limits(cpu_time_ms=3000, wall_time_ms=8000, memory_mb=128, processes=16)

    async def both() -> tuple[ExecutionOutcome, ExecutionOutcome]:
        return await asyncio.gather(
            runner.execute(victim, limits=limits), runner.execute(killer, limits=limits)
        )

    survivor, killer_result = runner.call(both())
    assert survivor.verdict == "accepted" and survivor.stdout == "alive\n", survivor
    assert killer_result.verdict == "accepted", killer_result


def test_stdin_the_program_never_reads(runner: Runner) -> None:
    data = b"x" * (8 << 20)  # far more than a pipe holds
    t0 = time.monotonic()
    result = runner.run("python", "print('not reading')", stdin=data, limits=QUICK)
    assert result.verdict == "accepted", result
    assert result.stdout == "not reading\n"
    assert time.monotonic() - t0 < 5
