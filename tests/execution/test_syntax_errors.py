"""Python and PHP files that do not parse are compile errors, with the interpreter's own
message; programs that parse run exactly as a plain ``python3 main.py`` would; output
that is not UTF-8 comes back byte for byte beside its text."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits, TestCase
from muscode_ext.execution.base import RunOutcome
from muscode_ext.execution.programs import python_syntax_error
from muscode_ext.execution.syntax import PYTHON_LAUNCHER, PYTHON_SYNTAX_STATUS

from .conftest import Runner

pytestmark = [pytest.mark.timeout(120)]
#: Tests that run programs, on every backend.
on_backends = pytest.mark.usefixtures("no_leftovers")

#: What of the launcher could show in a traceback.
LAUNCHER_TRACES = ("<string>", "_muscode_main")


def test_the_launcher_is_a_plain_command_argument() -> None:
    python = DEFAULT_LANGUAGES["python"]
    argv = python.command(python.run, main="main.py", args=["a"])
    assert argv[-3:] == [PYTHON_LAUNCHER, "main.py", "a"]
    compile(PYTHON_LAUNCHER, "<launcher>", "exec")


def test_only_the_launchers_report_is_a_syntax_error() -> None:
    report = b'  File "/box/main.py", line 1\n    print(\n         ^\nSyntaxError: boom\n'
    assert python_syntax_error(RunOutcome(exit_code=PYTHON_SYNTAX_STATUS, stderr=report))
    # The program's own exit status 65, or a run stopped by a limit, is not one.
    assert not python_syntax_error(RunOutcome(exit_code=PYTHON_SYNTAX_STATUS, stderr=b"bye\n"))
    assert not python_syntax_error(RunOutcome(exit_code=1, stderr=report))
    assert not python_syntax_error(
        RunOutcome(exit_code=PYTHON_SYNTAX_STATUS, stderr=report, limit_hit="wall_time")
    )


@on_backends
def test_python_syntax_error_is_a_compile_error(runner: Runner) -> None:
    result = runner.run("python", "print('hi')\nprint(1\n", expected_output="hi")
    assert result.verdict == "compile_error", result
    assert result.message == "The program did not compile."
    out = result.compile_output or ""
    # What `python3 main.py` prints, without a traceback of the launcher.
    assert out.startswith('  File "/'), out
    assert 'main.py", line 2\n' in out
    assert out.rstrip().endswith("SyntaxError: '(' was never closed"), out
    assert not any(t in out for t in LAUNCHER_TRACES), out
    assert result.stdout == "" and result.exit_code is None and result.time_ms is None


@on_backends
def test_python_indentation_error_in_every_test(runner: Runner) -> None:
    tests = [TestCase("a", b"1\n", "1"), TestCase("b", b"2\n", "2")]
    result = runner.run("python", "x = input()\n  print(x)\n", tests=tests)
    assert result.verdict == "compile_error", result
    assert "IndentationError: unexpected indent" in (result.compile_output or "")
    assert result.tests is not None
    assert [t.verdict for t in result.tests] == ["compile_error", "compile_error"]
    assert all(t.time_ms is None and t.stdout == "" for t in result.tests)


@on_backends
def test_python_runtime_error_has_a_plain_traceback(runner: Runner) -> None:
    source = "def f():\n    raise ValueError('boom')\n\nf()\n"
    result = runner.run("python", source)
    assert result.verdict == "runtime_error", result
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):", result.stderr
    assert lines[1].startswith('  File "/') and lines[1].endswith('main.py", line 4, in <module>')
    assert lines[-1] == "ValueError: boom"
    assert not any(t in result.stderr for t in LAUNCHER_TRACES), result.stderr


@on_backends
def test_a_syntax_error_at_run_time_is_a_runtime_error(runner: Runner) -> None:
    result = runner.run("python", "import sys\nexec('1 +')\n")
    assert result.verdict == "runtime_error", result
    assert "SyntaxError" in result.stderr and result.compile_output is None
    # Exiting with the launcher's status without its report is the program's own exit.
    own = runner.run("python", f"import sys\nsys.exit({PYTHON_SYNTAX_STATUS})\n")
    assert own.verdict == "runtime_error" and own.exit_code == PYTHON_SYNTAX_STATUS


@on_backends
def test_python_runs_as_a_plain_script(runner: Runner) -> None:
    source = (
        "import os, sys\n"
        "print(sys.argv)\n"
        "print(os.path.basename(__file__), os.path.isabs(__file__))\n"
        "print(sys.path[0] == os.path.dirname(__file__))\n"
        "print(sorted(k for k in globals() if k.startswith('_m')))\n"
        "if __name__ == '__main__':\n"
        "    print('main', input())\n"
        "sys.exit(3)\n"
    )
    result = runner.run("python", source, stdin="typed\n", args=["one", "two"])
    assert result.verdict == "runtime_error", result
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        "['main.py', 'one', 'two']",
        "main.py True",
        "True",
        "[]",
        "main typed",
    ]
    assert result.stderr == ""


@on_backends
def test_php_syntax_error_is_a_compile_error(runner: Runner) -> None:
    result = runner.run("php", '<?php\necho "a"\necho "b";\n', expected_output="ab")
    assert result.verdict == "compile_error", result
    out = result.compile_output or ""
    assert "Parse error: syntax error" in out and "main.php on line 3" in out, out
    assert result.stdout == "" and result.exit_code is None


@on_backends
def test_php_check_passes_and_is_reused(runner: Runner) -> None:
    cache = runner.sandbox.build_cache
    job = replace(runner.job("php", '<?php echo "ok\\n";'), build_scope="student-php")
    first = runner.call(runner.execute(job, expected_output="ok"))
    assert first.verdict == "accepted", first
    assert first.compile_output == "" and not first.build_cached
    hits = cache.hits
    again = runner.call(runner.execute(job, expected_output="ok"))
    assert again.verdict == "accepted", again
    assert again.build_cached and cache.hits == hits + 1


@on_backends
def test_output_that_is_not_utf8_comes_back_exactly(runner: Runner) -> None:
    source = (
        "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe ok')\nprint('fine', file=sys.stderr)\n"
    )
    result = runner.run("python", source)
    assert result.verdict == "accepted", result
    assert result.stdout == "\ufffd\ufffd ok"
    assert result.stdout_base64 is not None
    assert base64.b64decode(result.stdout_base64) == b"\xff\xfe ok"
    assert result.stderr == "fine\n" and result.stderr_base64 is None
    as_json = result.as_dict()
    assert as_json["stdout_base64"] == result.stdout_base64 and as_json["stderr_base64"] is None

    source = (
        "import sys\ndata = sys.stdin.buffer.read()\n"
        "sys.stderr.buffer.write(b'\\xc3(' if not data else data)\n"
    )
    tests = [TestCase("raw", b"", None), TestCase("text", "héllo".encode(), None)]
    with_tests = runner.run("python", source, tests=tests)
    assert with_tests.tests is not None
    raw, text = with_tests.tests
    assert raw.stderr == "\ufffd(" and base64.b64decode(raw.stderr_base64 or "") == b"\xc3("
    assert raw.stdout_base64 is None
    assert text.stderr == "héllo" and text.stderr_base64 is None
    assert with_tests.as_dict()["tests"][0]["stderr_base64"] == raw.stderr_base64


# Unbounded recursion: a stack overflow (SIGSEGV) without optimisation; gcc -O2 turns
# the tail call into a loop that never ends (docs/sandbox.md shows this example).
DEEP_RECURSION = """#include <stdio.h>
int depth(int n) { return n < 0 ? n : depth(n + 1); }
int main(void) { printf("%d\\n", depth(1)); return 0; }
"""


@on_backends
def test_c_is_optimised_so_a_stack_overflow_can_become_a_time_limit(runner: Runner) -> None:
    limits = Limits(cpu_time_ms=500, wall_time_ms=5000, memory_mb=128)
    optimised = runner.run("c", DEEP_RECURSION, limits=limits)
    assert optimised.verdict == "time_limit_exceeded", optimised
    plain = runner.run("c", DEEP_RECURSION, limits=limits, compiler_options=["-O0"])
    assert plain.verdict == "runtime_error" and plain.signal == 11, plain
