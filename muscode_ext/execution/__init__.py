"""Running untrusted programs: languages, sandbox backends, verdicts, the engine.

``DockerSandbox`` lives in :mod:`muscode_ext.execution.docker` and is not imported
here, so that the docker SDK is only loaded where that backend is chosen.
"""

from .base import (
    CompileOutcome,
    Job,
    Limits,
    Program,
    RunOutcome,
    Sandbox,
    SandboxUnavailable,
    SourceFile,
)
from .engine import ExecutionOutcome, TestCase, TestResult, execute
from .languages import DEFAULT_LANGUAGES, Language, build_registry
from .local import LocalSandbox

__all__ = [
    "DEFAULT_LANGUAGES",
    "CompileOutcome",
    "ExecutionOutcome",
    "Job",
    "Language",
    "Limits",
    "LocalSandbox",
    "Program",
    "RunOutcome",
    "Sandbox",
    "SandboxUnavailable",
    "SourceFile",
    "TestCase",
    "TestResult",
    "build_registry",
    "execute",
]
