"""The language registry: what each language is called, how it is compiled and run.

Commands are argument lists (never shell strings) with placeholders filled per job:

``{main}``
    the main file's path, relative to the work directory;
``{stem}``
    the main file's name without its extension (Java's class name);
``{sources}``
    expands to every file of the job with one of the language's extensions;
``{options}``
    expands to the compiler options of the job (already split, never through a shell);
``{args}``
    expands to the program's arguments;
``{heap_mb}``
    a heap size for runtimes that cannot see the sandbox's memory limit (Java, Node).

Operators add or change languages with ``MuscodeApp.languages`` (see ``app.py``), a
dict from id to the fields of :class:`Language`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import PurePosixPath
from typing import Any

from .syntax import PYTHON_LAUNCHER

_LIST_PLACEHOLDERS = ("{sources}", "{options}", "{args}")


@dataclass(frozen=True)
class Language:
    """One language MUSCode can compile and run."""

    id: str
    name: str
    extensions: tuple[str, ...]
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    #: Syntax check of the main file before the first run, for interpreted languages
    #: (``php -l``): when it fails, the run is a ``compile_error`` with what it printed.
    check: tuple[str, ...] | None = None
    #: Command printing the runtime's version (first line of stdout or stderr is used).
    version: tuple[str, ...] = ()
    #: Docker image holding the runtime (the Docker backend only).
    image: str = "muscode-runner:latest"
    #: Extra environment variables given to the program (the host's never are).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Default name of the main file when a bare ``source`` is run.
    default_main: str = "main"

    @property
    def compiled(self) -> bool:
        return self.compile is not None

    def main_path(self) -> str:
        """The file name a single ``source`` is saved under."""
        return self.default_main + self.extensions[0]

    def command(
        self,
        template: Sequence[str],
        *,
        main: str,
        files: Iterable[str] = (),
        options: Sequence[str] = (),
        args: Sequence[str] = (),
        heap_mb: int = 256,
    ) -> list[str]:
        """Fill a command template's placeholders for one job."""
        stem = PurePosixPath(main).stem
        sources = [f for f in files if f.endswith(self.extensions)] or [main]
        lists = {"{sources}": sources, "{options}": list(options), "{args}": list(args)}
        out: list[str] = []
        for part in template:
            if part in _LIST_PLACEHOLDERS:
                out.extend(lists[part])
            else:
                out.append(part.format(main=main, stem=stem, heap_mb=heap_mb))
        return out

    @classmethod
    def from_config(
        cls, id: str, conf: Mapping[str, Any], base: Language | None = None
    ) -> Language:
        """Build a language from operator configuration, on top of ``base`` if given."""
        known = {f.name for f in fields(cls)}
        unknown = set(conf) - known
        if unknown:
            raise ValueError(f"language {id!r}: unknown setting(s) {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for key, value in conf.items():
            if key in ("extensions", "run", "compile", "check", "version") and value is not None:
                if isinstance(value, str):
                    raise ValueError(f"language {id!r}: {key} must be a list of strings")
                value = tuple(value)
            values[key] = value
        if base is not None:
            return replace(base, **values)
        missing = {"name", "extensions", "run"} - set(values)
        if missing:
            raise ValueError(f"language {id!r}: missing setting(s) {', '.join(sorted(missing))}")
        return cls(id=id, **values)


DEFAULT_LANGUAGES: dict[str, Language] = {
    lang.id: lang
    for lang in [
        Language(
            id="python",
            name="Python",
            extensions=(".py",),
            # Not -I: it would drop the script's folder from sys.path (multi-file projects).
            # -u: output streams live, and a prompt shows before input() blocks.
            # The launcher compiles {main} first: a syntax error is a compile_error
            # (see ``syntax``); then it runs it as ``python3 {main}`` would.
            run=("python3", "-u", "-E", "-s", "-B", "-c", PYTHON_LAUNCHER, "{main}", "{args}"),
            version=("python3", "--version"),
        ),
        Language(
            id="javascript",
            name="JavaScript (Node.js)",
            extensions=(".js", ".mjs"),
            run=("node", "--max-old-space-size={heap_mb}", "{main}", "{args}"),
            version=("node", "--version"),
        ),
        Language(
            id="java",
            name="Java",
            extensions=(".java",),
            compile=(
                "javac",
                "-J-Xmx{heap_mb}m",
                "-J-XX:+UseSerialGC",
                # C1 only: javac is a short-lived JVM, about 30% faster to compile with it.
                "-J-XX:TieredStopAtLevel=1",
                "-encoding",
                "UTF-8",
                "-d",
                ".",
                "{options}",
                "{sources}",
            ),
            run=(
                "java",
                "-Xmx{heap_mb}m",
                "-Xss64m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Xshare:auto",
                # The JVM logs its warnings (e.g. a thread it could not start) to stdout
                # by default, where they would be judged as the program's answer.
                "-Xlog:disable",
                "-Xlog:all=warning:stderr",
                "-cp",
                ".",
                "{stem}",
                "{args}",
            ),
            version=("java", "-version"),
            default_main="Main",
        ),
        Language(
            id="c",
            name="C",
            extensions=(".c",),
            compile=(
                "gcc",
                "-std=c17",
                "-O2",
                "-pipe",
                "-o",
                "prog",
                "{options}",
                "{sources}",
                "-lm",
            ),
            run=("./prog", "{args}"),
            version=("gcc", "-dumpfullversion"),
        ),
        Language(
            id="cpp",
            name="C++",
            extensions=(".cpp", ".cc", ".cxx"),
            compile=("g++", "-std=c++17", "-O2", "-pipe", "-o", "prog", "{options}", "{sources}"),
            run=("./prog", "{args}"),
            version=("g++", "-dumpfullversion"),
        ),
        Language(
            id="php",
            name="PHP",
            extensions=(".php",),
            run=("php", "-n", "-d", "memory_limit=-1", "{main}", "{args}"),
            check=("php", "-n", "-l", "{main}"),
            version=("php", "-n", "-r", "echo PHP_VERSION;"),
        ),
    ]
}


def build_registry(overrides: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Language]:
    """The default languages with the operator's overrides applied.

    A value of ``None`` removes a language; a new id adds one (all of ``name``,
    ``extensions`` and ``run`` are then required).
    """
    registry = dict(DEFAULT_LANGUAGES)
    for lang_id, conf in overrides.items():
        if conf is None:
            registry.pop(lang_id, None)
            continue
        registry[lang_id] = Language.from_config(lang_id, conf, registry.get(lang_id))
    return registry
