"""What the benchmarks share: the hello worlds, the same programs run on the host, and a
real ``jupyter muscode`` server driven through its HTTP API.

Scripts import it by name (``python bench/<script>.py`` puts ``bench/`` on the path).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HELLO = {
    "python": ("main.py", "print('hello')\n"),
    "javascript": ("main.js", "console.log('hello')\n"),
    "php": ("main.php", "<?php echo 'hello', PHP_EOL;\n"),
    "c": ("main.c", '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n'),
    "cpp": ("main.cpp", '#include <iostream>\nint main(){std::cout<<"hello\\n";}\n'),
    "java": (
        "Main.java",
        'public class Main{public static void main(String[] a){System.out.println("hello");}}\n',
    ),
}
# The system's runtimes, which the local sandbox runs too (not a PATH shim such as
# pyenv's, whose start-up alone is several times the interpreter's).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
HOST_COMMANDS = {
    "python": ["python3 main.py"],
    "javascript": ["node main.js"],
    "php": ["php main.php"],
    "c": ["gcc -O2 -o prog main.c", "./prog"],
    "cpp": ["g++ -O2 -o prog main.cpp", "./prog"],
    "java": ["javac -d . Main.java", "java -cp . Main"],
}
TOKEN = "bench-token"
#: Runs per language before measuring.
WARM_UP = 3


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_host(language: str, runs: int) -> list[float]:
    name, source = HELLO[language]
    out = []
    with tempfile.TemporaryDirectory() as d:
        Path(d, name).write_text(source)
        for _ in range(runs):
            start = time.perf_counter()
            for command in HOST_COMMANDS[language]:
                subprocess.run(
                    command,
                    shell=True,
                    cwd=d,
                    check=True,
                    capture_output=True,
                    env={**os.environ, "PATH": SYSTEM_PATH},
                )
            out.append(time.perf_counter() - start)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, backend: str, *extra_args: str, start_timeout: float = 60) -> None:
        """``extra_args`` replace the default ``--MuscodeApp.workers=2``."""
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="muscode-bench-")
        env = {
            **os.environ,
            "JUPYTER_DATA_DIR": f"{self.dir}/data",
            "JUPYTER_RUNTIME_DIR": f"{self.dir}/rt",
            "MUSCODE_SANDBOX": backend,
        }
        jupyter = Path(sys.executable).parent / "jupyter-muscode"
        self.proc = subprocess.Popen(
            [
                str(jupyter),
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--ServerApp.token={TOKEN}",
                "--allow-root",
                "--MuscodeApp.run_rate_limit=1000000/minute",
                "--MuscodeApp.max_active_runs=0",
                *(extra_args or ("--MuscodeApp.workers=2",)),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                self.get("languages")
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"the {backend} server did not start in {start_timeout:g} s")

    def get(self, path: str) -> object:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/muscode/v1/{path}",
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def run(self, language: str, source: str | None = None) -> float:
        """Seconds for one hello world (or ``source``) through ``POST /executions?wait=true``;
        anything but ``accepted`` ends the benchmark."""
        name, hello = HELLO[language]
        source = hello if source is None else source
        body = json.dumps(
            {
                "language": language,
                "files": [{"path": name, "content": source}],
                "expected_output": "hello",
            }
        ).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/muscode/v1/executions?wait=true&timeout=120",
            data=body,
            method="POST",
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=150) as r:
            result = json.loads(r.read())
        took = time.perf_counter() - start
        if result.get("verdict") != "accepted":
            raise SystemExit(f"{language}: {result.get('verdict')} {result.get('message')}")
        return took

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process itself has used so far: its
        Python, all threads; not the sandboxed programs."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
