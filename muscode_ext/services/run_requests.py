"""A run request: what callers send to ``/executions``, the server's limits, and the
checks that turn a request into the row of a ``queued`` run.

Pure: no database, queue or sandbox. :class:`~.executions.ExecutionService` adds the
checks that need them (the language available now, the caller's project, the rate
limit).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt, StrictStr

from ..errors import Invalid, TooLarge
from ..execution.base import Limits
from ..execution.compare import DEFAULT_TOLERANCE, Compare
from ..execution.languages import Language
from ..notebooks.nbevents import DEFAULT_OUTPUT_BYTES
from ..notebooks.validate import notebook_problem
from ..store import Execution
from ..store.models import RunStatus, new_id, utcnow
from .inputs import StrictInput
from .paths import decode_content, encode_content, normalize_path
from .projects import FileInput

LIMIT_FIELDS = tuple(f.name for f in fields(Limits))
#: A run whose main file ends so is a notebook run (docs/notebooks.md).
NOTEBOOK_SUFFIX = ".ipynb"
#: The language notebooks run as.
NOTEBOOK_LANGUAGE = "python"
_JAVA_PUBLIC_CLASS = re.compile(r"\bpublic\s+(?:final\s+|abstract\s+)*class\s+([A-Za-z_]\w*)")


class LimitsInput(StrictInput):
    cpu_time_ms: StrictInt | None = Field(default=None, gt=0)
    wall_time_ms: StrictInt | None = Field(default=None, gt=0)
    memory_mb: StrictInt | None = Field(default=None, gt=0)
    processes: StrictInt | None = Field(default=None, gt=0)
    output_kb: StrictInt | None = Field(default=None, gt=0)
    file_size_kb: StrictInt | None = Field(default=None, gt=0)
    #: Interactive runs: the longest one wait for input may last (ms).
    idle_ms: StrictInt | None = Field(default=None, gt=0)


#: A ``numbers`` tolerance: finite, not negative (an int is taken as well).
Tolerance = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class CompareInput(StrictInput):
    """How an expected output is compared (:mod:`..execution.compare`)."""

    compare: Compare | None = None
    tolerance: Tolerance | None = None

    def compare_rule(
        self, field: str = "", default: tuple[str, float | None] | None = None
    ) -> tuple[str, float | None]:
        """(compare, tolerance) as stored: ``tolerance`` only with ``numbers`` (the
        default 1e-6 when not given); 422 naming ``{field}tolerance`` when it is given
        with another rule. ``default``: the rule when no ``compare`` is given."""
        compare = self.compare or (default[0] if default else "trailing_whitespace")
        if compare != "numbers":
            if self.tolerance is not None:
                raise Invalid.field(f"{field}tolerance", 'is used only with compare "numbers"')
            return compare, None
        if self.tolerance is not None:
            return compare, self.tolerance
        inherited = default[1] if default and default[0] == "numbers" else None
        return compare, DEFAULT_TOLERANCE if inherited is None else inherited


class TestInput(CompareInput):
    name: StrictStr
    stdin: StrictStr = ""
    expected_output: StrictStr | None = None
    #: This test's own limits, over the run's (each still at most the server's maximum).
    limits: LimitsInput | None = None


class ExecutionCreate(CompareInput):
    """One run (API.md, "Executions"). ``compare``/``tolerance`` apply to
    ``expected_output``, and to each test that gives no rule of its own."""

    language: StrictStr
    source: StrictStr | None = None
    files: list[FileInput] | None = None
    main: StrictStr | None = None
    project_id: StrictStr | None = None
    stdin: StrictStr = ""
    args: list[StrictStr] = Field(default_factory=list, max_length=64)
    compiler_options: StrictStr = Field(default="", max_length=1000)
    expected_output: StrictStr | None = None
    tests: list[TestInput] | None = None
    limits: LimitsInput | None = None
    callback_url: StrictStr | None = None
    interactive: StrictBool = False
    #: A notebook run goes on past a cell that raises (and is then ``accepted``).
    allow_errors: StrictBool = False


class ExecutionBatch(StrictInput):
    submissions: list[ExecutionCreate]


@dataclass(frozen=True)
class ExecutionPolicy:
    """Server defaults and maxima (see the ``MuscodeApp`` traits)."""

    run_limits: Limits
    max_limits: Limits
    compile_limits: Limits
    max_source_size: int
    max_stdin_size: int
    max_tests: int
    max_batch: int = 100


def limits_within(
    policy: ExecutionPolicy,
    requested: LimitsInput | None,
    base: Limits | None = None,
    field: str = "limits",
) -> Limits:
    """``base`` (else the server's run limits) with ``requested`` applied; 422 naming
    ``field`` when a value is over the server's maximum."""
    values = (base or policy.run_limits).as_dict()
    maxima = policy.max_limits.as_dict()
    given = requested.model_dump(exclude_none=True) if requested else {}
    errors = []
    for name, value in given.items():
        if value > maxima[name]:
            errors.append(
                {
                    "field": f"{field}.{name}",
                    "message": f"must be at most {maxima[name]} on this server",
                }
            )
        values[name] = value
    if errors:
        summary = "; ".join(f"{e['field']} {e['message']}" for e in errors)
        raise Invalid(
            f"limits over the server's maximum: {summary}",
            errors=errors,
            reason="limit_too_high",
        )
    return Limits(**values)


def source_files(
    language: Language, data: ExecutionCreate
) -> tuple[list[tuple[str, bytes]], str] | None:
    """Files and main for ``source``/``files`` requests; None for a project run."""
    given = [x is not None for x in (data.source, data.files, data.project_id)]
    if sum(given) != 1:
        raise Invalid(
            "send exactly one of source, files or project_id",
            errors=[
                {
                    "field": "source",
                    "message": "exactly one of source, files, project_id is required",
                }
            ],
        )
    if data.source is not None:
        main = language.main_path()
        if language.id == "java":
            m = _JAVA_PUBLIC_CLASS.search(data.source)
            if m:
                main = f"{m.group(1)}.java"
        return [(main, decode_content(data.source, "utf-8", "source"))], main
    if data.files is not None:
        files: dict[str, bytes] = {}
        for i, f in enumerate(data.files):
            path = normalize_path(f.path, f"files[{i}].path")
            if path in files:
                raise Invalid.field(f"files[{i}].path", f"{path!r} appears twice")
            files[path] = decode_content(f.content, f.encoding, f"files[{i}].content")
        if not files:
            raise Invalid.field("files", "must hold at least one file")
        return list(files.items()), main_file(language, data.main, list(files))
    return None


def main_file(language: Language, main: str | None, paths: Sequence[str]) -> str:
    """The file to run: ``main`` if given (one of ``paths``), else the language's
    usual main file, else the only file of the language; 422 otherwise."""
    if main is not None:
        normal = normalize_path(main, "main")
        if normal not in paths:
            raise Invalid.field("main", f"{normal!r} is not one of the files")
        return normal
    candidates = [p for p in paths if p.endswith(language.extensions)]
    for p in candidates:
        if p.rsplit("/", 1)[-1] in (language.main_path(), "main" + language.extensions[0]):
            return p
    if len(candidates) == 1:
        return candidates[0]
    raise Invalid.field(
        "main", f"say which file to run: none or several {language.name} files found"
    )


def execution_row(
    *,
    owner: str,
    project_id: str | None,
    language: str,
    files: Sequence[tuple[str, bytes]],
    main: str,
    limits: Limits,
    stdin: str = "",
    args: Sequence[str] = (),
    compiler_options: Sequence[str] = (),
    expected_output: str | None = None,
    compare: tuple[str, float | None] = ("trailing_whitespace", None),
    tests: list[dict[str, Any]] | None = None,
    interactive: bool = False,
    callback_url: str | None = None,
    build_scope: str | None = None,
    notebook: dict[str, Any] | None = None,
) -> Execution:
    """A new ``queued`` run; ``request`` holds everything a worker needs to run it.
    ``compare`` is how ``expected_output`` is compared; each test names its own
    (``compare``, ``tolerance``; none: the default rule). ``build_scope``: whose
    builds the run may reuse (None: its owner's). ``notebook``: a notebook run's
    options (:func:`notebook_options`)."""
    request = {
        "files": [
            dict(zip(("content", "encoding"), encode_content(c), strict=True), path=p)
            for p, c in files
        ],
        "main": main,
        "stdin": stdin,
        "args": list(args),
        "compiler_options": list(compiler_options),
        "expected_output": expected_output,
        "compare": compare[0],
        "tolerance": compare[1],
        "tests": tests,
        "limits": limits.as_dict(),
        "interactive": interactive,
        "callback_url": callback_url,
    }
    if build_scope is not None:
        request["build_scope"] = build_scope
    if notebook is not None:
        request["notebook"] = notebook
    return Execution(
        owner=owner,
        project_id=project_id,
        language=language,
        # The id now, not at the insert: the in-process queue may have it before.
        id=new_id(),
        status=RunStatus.QUEUED,
        request=request,
        created_at=utcnow(),
        attempts=0,
    )


def run_row(
    policy: ExecutionPolicy,
    data: ExecutionCreate,
    *,
    owner: str,
    project_id: str | None,
    language: str,
    files: list[tuple[str, bytes]],
    main: str,
    limits: Limits,
    compiler_options: list[str],
) -> Execution:
    """The row of the run ``data`` asks for, once its files are known: 413 when the
    program or a stdin is over the server's size caps, 422 when a test's limits are
    over its maxima."""
    size = sum(len(c) for _, c in files)
    if size > policy.max_source_size:
        raise TooLarge(
            f"the program is {size} bytes; the limit is {policy.max_source_size} bytes",
            reason="source_too_large",
        )
    stdins = [data.stdin] + [t.stdin for t in data.tests or []]
    for i, text in enumerate(stdins):
        n = len(decode_content(text, "utf-8", "stdin" if i == 0 else f"tests[{i - 1}].stdin"))
        if n > policy.max_stdin_size:
            raise TooLarge(
                f"stdin is {n} bytes; the limit is {policy.max_stdin_size}",
                reason="stdin_too_large",
            )
    notebook = notebook_request(data, language, files, main)
    if notebook is not None:
        limits = limits_within(policy, data.limits, notebook_limits(policy))
    rule = data.compare_rule()
    tests = None
    if data.tests is not None:
        tests = []
        for i, t in enumerate(data.tests):
            compare, tolerance = t.compare_rule(f"tests[{i}].", rule)
            tests.append(
                {
                    "name": t.name,
                    "stdin": t.stdin,
                    "expected_output": t.expected_output,
                    "compare": compare,
                    "tolerance": tolerance,
                    "limits": None
                    if t.limits is None
                    else limits_within(policy, t.limits, limits, f"tests[{i}].limits").as_dict(),
                }
            )
    return execution_row(
        owner=owner,
        project_id=project_id,
        language=language,
        files=files,
        main=main,
        limits=limits,
        stdin=data.stdin,
        args=data.args,
        compiler_options=compiler_options,
        expected_output=data.expected_output,
        compare=rule,
        tests=tests,
        interactive=data.interactive,
        callback_url=data.callback_url,
        notebook=notebook,
    )


#: What a notebook run gets at least when it asks for no time limits: starting IPython
#: alone takes about a second of CPU time.
NOTEBOOK_MIN_CPU_MS = 10_000
NOTEBOOK_MIN_WALL_MS = 30_000


def notebook_limits(policy: ExecutionPolicy) -> Limits:
    """A notebook run's default limits: the server's run limits, with at least
    :data:`NOTEBOOK_MIN_CPU_MS` and :data:`NOTEBOOK_MIN_WALL_MS` (within its maxima)."""
    run, most = policy.run_limits, policy.max_limits
    return replace(
        run,
        cpu_time_ms=min(max(run.cpu_time_ms, NOTEBOOK_MIN_CPU_MS), most.cpu_time_ms),
        wall_time_ms=min(max(run.wall_time_ms, NOTEBOOK_MIN_WALL_MS), most.wall_time_ms),
    )


def notebook_options(
    content: bytes,
    main: str,
    *,
    allow_errors: bool = False,
    cell_timeout_s: float = 0,
    max_output_bytes: int = DEFAULT_OUTPUT_BYTES,
) -> dict[str, Any]:
    """A notebook run's options as a worker reads them (``request["notebook"]``);
    422 ``invalid_notebook`` (naming ``main``) when ``content`` is not a notebook
    MUSCode can run."""
    problem = notebook_problem(content)
    if problem is not None:
        raise Invalid(
            f"{main}: {problem.message}",
            reason=problem.reason,
            errors=[{"field": "main", "message": problem.message}],
        )
    return {
        "allow_errors": allow_errors,
        "cell_timeout_s": cell_timeout_s,
        "max_output_bytes": max_output_bytes,
    }


def notebook_request(
    data: ExecutionCreate, language: str, files: Sequence[tuple[str, bytes]], main: str
) -> dict[str, Any] | None:
    """The notebook options of a run whose main file is a notebook (None for any other
    run); 422 for what a notebook run cannot take. Its output budget is the request's
    ``limits.output_kb`` when given, else 1 MiB."""
    if not main.endswith(NOTEBOOK_SUFFIX):
        if data.allow_errors:
            raise Invalid.field(
                "allow_errors",
                f"applies to notebook runs only (a main file ending in {NOTEBOOK_SUFFIX})",
            )
        return None
    if language != NOTEBOOK_LANGUAGE:
        raise Invalid.field(
            "language", f"a notebook runs as {NOTEBOOK_LANGUAGE!r}, not {language!r}"
        )
    refused = {
        "tests": data.tests is not None,
        "expected_output": data.expected_output is not None,
        "interactive": data.interactive,
        "stdin": data.stdin != "",
        "args": bool(data.args),
        "compiler_options": data.compiler_options != "",
    }
    for name, given in refused.items():
        if given:
            raise Invalid.field(name, "a notebook run takes none: its cells are what runs")
    budget = DEFAULT_OUTPUT_BYTES
    if data.limits is not None and data.limits.output_kb is not None:
        budget = data.limits.output_kb * 1024
    return notebook_options(
        dict(files)[main], main, allow_errors=data.allow_errors, max_output_bytes=budget
    )
