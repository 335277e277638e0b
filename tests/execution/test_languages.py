"""All six languages on every backend: run, stdin, verdicts, compile once / run many."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from muscode_ext.execution import DEFAULT_LANGUAGES, Limits, TestCase
from muscode_ext.execution.base import Sandbox

from .conftest import Runner

pytestmark = [pytest.mark.usefixtures("no_leftovers"), pytest.mark.timeout(120)]

LANGUAGES = ["python", "javascript", "java", "c", "cpp", "php"]

HELLO = {
    "python": 'print("Hello, world!")',
    "javascript": 'console.log("Hello, world!");',
    "java": "public class Main { public static void main(String[] a) {\n"
    '  System.out.println("Hello, world!"); } }',
    "c": '#include <stdio.h>\nint main(void) { puts("Hello, world!"); return 0; }',
    "cpp": '#include <iostream>\nint main() { std::cout << "Hello, world!" << std::endl; }',
    "php": '<?php echo "Hello, world!\\n";',
}

# Copy stdin to stdout byte for byte.
ECHO = {
    "python": "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())",
    "javascript": "process.stdin.pipe(process.stdout);",
    "java": "public class Main { public static void main(String[] a) throws Exception {\n"
    "  System.in.transferTo(System.out); System.out.flush(); } }",
    "c": "#include <stdio.h>\nint main(void) { int c; while ((c = getchar()) != EOF) "
    "putchar(c); return 0; }",
    "cpp": "#include <iostream>\nint main() { std::cout << std::cin.rdbuf(); }",
    "php": "<?php echo stream_get_contents(STDIN);",
}

# Fail at run time; (exit code, signal) each backend must report.
CRASH = {
    "python": ("raise ValueError('boom')", 1, None, "ValueError"),
    "javascript": ("throw new Error('boom');", 1, None, "Error: boom"),
    "java": (
        "public class Main { public static void main(String[] a) {\n"
        '  throw new IllegalStateException("boom"); } }',
        1,
        None,
        "IllegalStateException",
    ),
    "c": ("int main(void) { volatile int *p = 0; return *p; }", None, 11, ""),
    "cpp": ("#include <cstdlib>\nint main() { std::abort(); }", None, 6, ""),
    "php": ("<?php throw new Exception('boom');", 255, None, "boom"),
}

PRINT_42 = {
    "python": "print(42)",
    "javascript": "console.log(42);",
    "java": "public class Main { public static void main(String[] a) { System.out.println(42); } }",
    "c": '#include <stdio.h>\nint main(void) { printf("42\\n"); return 0; }',
    "cpp": '#include <cstdio>\nint main() { std::printf("42\\n"); }',
    "php": '<?php echo 42, "\\n";',
}

BROKEN = {
    "c": ("int main(void) { int x = ; return 0; }", "main.c", "error"),
    "cpp": ("int main() { std::strinj s; }", "main.cpp", "error"),
    "java": (
        "public class Main { public static void main(String[] a) { int x = 1 } }",
        "Main.java",
        "error",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_hello_world(runner: Runner, language: str) -> None:
    result = runner.run(language, HELLO[language], expected_output="Hello, world!\n")
    assert result.verdict == "accepted", result
    assert result.stdout == "Hello, world!\n"
    assert result.exit_code == 0 and result.signal is None
    assert result.time_ms is not None and result.time_ms >= 0
    assert result.wall_time_ms is not None and result.wall_time_ms > 0
    assert result.memory_kb is not None and result.memory_kb > 0


@pytest.mark.parametrize("language", LANGUAGES)
def test_stdin_echo(runner: Runner, language: str) -> None:
    data = "héllo wörld ✓\nsecond line\n\tlast line without newline"
    result = runner.run(language, ECHO[language], stdin=data)
    assert result.verdict == "accepted", result
    assert result.stdout == data


def test_large_stdin_is_fed_completely(runner: Runner) -> None:
    data = "".join(f"{i}\n" for i in range(200_000))  # ~1.3 MB, far over a pipe buffer
    source = "import sys\nprint(sum(int(x) for x in sys.stdin))"
    result = runner.run("python", source, stdin=data)
    assert result.verdict == "accepted", result
    assert result.stdout == f"{sum(range(200_000))}\n"


@pytest.mark.parametrize("language", LANGUAGES)
def test_runtime_error(runner: Runner, language: str) -> None:
    source, exit_code, signal, needle = CRASH[language]
    result = runner.run(language, source)
    assert result.verdict == "runtime_error", result
    assert (result.exit_code, result.signal) == (exit_code, signal)
    assert needle in result.stderr + result.stdout
    assert result.message


@pytest.mark.parametrize("language", LANGUAGES)
def test_wrong_answer_and_trailing_whitespace(runner: Runner, language: str) -> None:
    assert runner.run(language, PRINT_42[language], expected_output="43").verdict == (
        "wrong_answer"
    )
    assert runner.run(language, PRINT_42[language], expected_output="42  \n\n").verdict == (
        "accepted"
    )


@pytest.mark.parametrize("language", sorted(BROKEN))
def test_compile_error_shows_the_compiler_message(runner: Runner, language: str) -> None:
    source, filename, needle = BROKEN[language]
    result = runner.run(language, source, expected_output="x")
    assert result.verdict == "compile_error", result
    assert result.compile_output is not None
    assert filename in result.compile_output and needle in result.compile_output
    assert result.stdout == "" and result.exit_code is None


SQUARE_WITH_EVIDENCE = {
    # Each run prints, on stderr, the identity (size, mtime) of the compiled artefact it
    # runs: the same identity in every test proves the compiler ran once. (Not the inode:
    # under Docker the first run may be in the build's own container, the others in
    # containers that got a copy, and a tmpfs numbers inodes in creation order.)
    "c": r"""
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <sys/stat.h>
int main(void) {
    struct stat st; long n;
    if (stat("/proc/self/exe", &st) != 0) return 2;
    fprintf(stderr, "%ld:%ld.%09ld\n", (long)st.st_size,
            (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    if (scanf("%ld", &n) != 1) return 3;
    printf("%ld\n", n * n);
    return 0;
}""",
    "java": """
import java.nio.file.*;
import java.util.Scanner;
public class Main {
  public static void main(String[] a) throws Exception {
    Path p = Paths.get("Main.class");
    System.err.println(Files.size(p) + ":"
        + Files.getLastModifiedTime(p).toMillis());
    long n = new Scanner(System.in).nextLong();
    System.out.println(n * n);
  }
}""",
}


@pytest.mark.parametrize("language", sorted(SQUARE_WITH_EVIDENCE))
def test_tests_compile_once_run_many(runner: Runner, language: str) -> None:
    tests = [
        TestCase("three", b"3\n", "9"),
        TestCase("four", b"4\n", "17"),  # wrong on purpose
        TestCase("ten", b"10\n", "100\n"),
    ]
    result = runner.run(language, SQUARE_WITH_EVIDENCE[language], tests=tests)
    assert result.tests is not None
    assert [t.verdict for t in result.tests] == ["accepted", "wrong_answer", "accepted"]
    assert [t.stdout for t in result.tests] == ["9\n", "16\n", "100\n"]
    assert result.verdict == "wrong_answer"
    assert result.stdout == "16\n"
    identities = {t.stderr.strip() for t in result.tests}
    assert len(identities) == 1 and ":" in identities.pop(), result.tests
    for test in result.tests:
        assert test.time_ms is not None and test.memory_kb is not None


def test_tests_with_a_compile_error_fail_together(runner: Runner) -> None:
    result = runner.run(
        "cpp", BROKEN["cpp"][0], tests=[TestCase("a", b"", "1"), TestCase("b", b"", "2")]
    )
    assert result.verdict == "compile_error"
    assert [t.verdict for t in result.tests or []] == ["compile_error"] * 2
    assert "error" in (result.compile_output or "")


def test_multi_file_python_project(runner: Runner) -> None:
    files = {
        "main.py": "from lib.helper import greet\nprint(greet('class'))",
        "lib/__init__.py": "",
        "lib/helper.py": "def greet(who):\n    return f'hello {who}'",
    }
    result = runner.run("python", files=files, main="main.py")
    assert result.verdict == "accepted", result
    assert result.stdout == "hello class\n"


def test_the_program_may_write_in_its_work_dir(runner: Runner) -> None:
    source = (
        "open('out.txt', 'w').write('saved')\n"
        "import tempfile, os\n"
        "with tempfile.NamedTemporaryFile('w', delete=False) as f: f.write('tmp')\n"
        "print(open('out.txt').read(), open(f.name).read())"
    )
    result = runner.run("python", source)
    assert result.verdict == "accepted", result
    assert result.stdout == "saved tmp\n"


def test_arguments_reach_the_program(runner: Runner) -> None:
    result = runner.run(
        "python", "import sys, json\nprint(json.dumps(sys.argv[1:]))", args=["a b", "", "c"]
    )
    assert json.loads(result.stdout) == ["a b", "", "c"]


def test_interactive_stdin_and_live_output(runner: Runner) -> None:
    """Stdin chunks are written as they come; output is seen while the program runs."""
    source = (
        "import sys\n"
        "for line in sys.stdin:\n"
        "    print(line.strip().upper(), flush=True)\n"
        "print('bye', flush=True)"
    )
    job = runner.job("python", source)
    chunks: list[tuple[str, bytes]] = []

    async def scenario() -> tuple[str, list[str]]:
        got_output = asyncio.Event()
        log: list[str] = []

        def on_output(stream: str, chunk: bytes) -> None:
            chunks.append((stream, chunk))
            got_output.set()

        async def typing() -> AsyncIterator[bytes]:
            for word in (b"first\n", b"second\n"):
                got_output.clear()
                log.append(f"send {word.strip().decode()}")
                yield word
                # Only type the next line once the program answered the previous one.
                await asyncio.wait_for(got_output.wait(), timeout=10)
                log.append("answered")

        result = await runner.execute(job, stdin=typing(), on_output=on_output)
        return result.stdout, log

    stdout, log = runner.call(scenario())
    assert stdout == "FIRST\nSECOND\nbye\n"
    assert log == ["send first", "answered", "send second", "answered"]
    assert b"".join(c for s, c in chunks if s == "stdout") == b"FIRST\nSECOND\nbye\n"


def test_cancelling_the_task_stops_the_run(runner: Runner) -> None:
    job = runner.job("python", "import time\nprint('up', flush=True)\ntime.sleep(60)")

    async def scenario() -> float:
        started = asyncio.Event()
        task = asyncio.ensure_future(
            runner.execute(
                job,
                limits=Limits(wall_time_ms=60_000, cpu_time_ms=60_000),
                on_output=lambda s, c: started.set(),
            )
        )
        await asyncio.wait_for(started.wait(), timeout=20)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - t0

    assert runner.call(scenario()) < 5


def test_cancel_event_gives_the_cancelled_verdict(runner: Runner) -> None:
    job = runner.job("python", "import time\nprint('up', flush=True)\ntime.sleep(60)")

    async def scenario() -> tuple[str, str]:
        cancel = asyncio.Event()
        seen = bytearray()

        def on_output(stream: str, chunk: bytes) -> None:
            # Unbuffered Python may write the text and its newline separately.
            seen.extend(chunk)
            if b"\n" in seen:
                cancel.set()

        result = await runner.execute(
            job,
            limits=Limits(wall_time_ms=60_000, cpu_time_ms=60_000),
            on_output=on_output,
            cancel=cancel,
        )
        return result.verdict, result.stdout

    assert runner.call(scenario()) == ("cancelled", "up\n")


def test_language_versions_are_probed(runner: Runner, sandbox: Sandbox) -> None:
    for language in LANGUAGES:
        version = runner.call(sandbox.language_version(DEFAULT_LANGUAGES[language]))
        assert version and version[0].isdigit(), (language, version)


def test_check_says_the_backend_works(runner: Runner, sandbox: Sandbox) -> None:
    assert runner.call(sandbox.check()) is None


def test_jvm_warnings_do_not_pollute_stdout(runner: Runner) -> None:
    # Reaching the thread limit makes the JVM log a warning; the answer must stay clean.
    source = """
public class Main {
  public static void main(String[] a) {
    int n = 0;
    try {
      while (n < 10_000) {
        new Thread(() -> { try { Thread.sleep(60_000); } catch (Exception e) {} }).start();
        n++;
      }
    } catch (Throwable t) {
      System.out.println("stopped");
      System.exit(0);
    }
  }
}"""
    limits = Limits(cpu_time_ms=5000, wall_time_ms=8000, memory_mb=256, processes=48)
    result = runner.run("java", source, limits=limits, expected_output="stopped")
    assert result.verdict == "accepted", result
    assert result.stdout == "stopped\n"
    assert "warning" in result.stderr


def test_cancel_event_interrupts_a_compile(runner: Runner) -> None:
    # Reading /dev/random never ends: only the compile limit (20 s here) would stop it.
    job = runner.job(
        "c",
        "#include </dev/random>\nint main(void) { return 0; }",
        compile_limits=Limits(cpu_time_ms=20_000, wall_time_ms=20_000, memory_mb=256),
    )

    async def scenario() -> tuple[str, float]:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, cancel.set)
        t0 = loop.time()
        result = await runner.execute(job, cancel=cancel)
        return result.verdict, loop.time() - t0

    verdict, took = runner.call(scenario())
    assert verdict == "cancelled"
    assert took < 5


@pytest.mark.parametrize(
    ("language", "main", "source"),
    [
        ("python", "-v.py", "print('ok')"),
        ("c", "-xc.c", '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }'),
    ],
)
def test_file_names_that_look_like_options(
    runner: Runner, language: str, main: str, source: str
) -> None:
    result = runner.run(language, source, main=main)
    assert result.verdict == "accepted", result
    assert result.stdout == "ok\n"
