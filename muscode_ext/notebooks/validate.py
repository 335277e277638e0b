"""Reading a notebook someone uploaded: valid nbformat 4, or a problem saying what is wrong.

The service answers a problem with 422 ``{"message", "reason": "invalid_notebook"}``.
Notebooks written before cell ids existed (nbformat < 4.5) are accepted: ids are added,
as JupyterLab does when it opens them.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import nbformat
from nbformat.validator import iter_validate, normalize

from .nbevents import check_notebook

REASON = "invalid_notebook"
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class NotebookProblem:
    """Why content is not a notebook MUSCode can run. ``path`` points into the JSON
    (``cells[3].source``) when the schema check found it."""

    message: str
    path: str | None = None
    reason: str = REASON

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "reason": self.reason, "path": self.path}


class InvalidNotebook(ValueError):
    def __init__(self, problem: NotebookProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _json_path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_notebook(content: bytes | str | Mapping[str, Any]) -> nbformat.NotebookNode:
    """The notebook in ``content`` (file bytes, text or parsed JSON), validated against
    the nbformat 4 schema. Raises :class:`InvalidNotebook`."""
    if isinstance(content, Mapping):
        data: Any = json.loads(json.dumps(content))
    else:
        try:
            text = content.decode("utf-8") if isinstance(content, bytes) else content
            data = json.loads(text)
        except UnicodeDecodeError:
            raise InvalidNotebook(NotebookProblem("The notebook is not UTF-8 text.")) from None
        except ValueError as exc:
            raise InvalidNotebook(
                NotebookProblem(f"The notebook is not valid JSON: {exc}")
            ) from None
    if not isinstance(data, dict):
        raise InvalidNotebook(NotebookProblem("The notebook is not a JSON object."))
    major = data.get("nbformat")
    if major != 4:
        raise InvalidNotebook(
            NotebookProblem(
                f"nbformat {major!r} is not supported: MUSCode runs nbformat 4 notebooks "
                "(JupyterLab saves older ones as version 4)."
            )
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbformat warns about what normalize repairs
        try:
            _, checked = normalize(copy.deepcopy(data))  # adds the cell ids 4.5 requires
        except (KeyError, TypeError, AttributeError, ValueError):
            checked = data  # so broken that only the schema can say why
        error = next(iter(iter_validate(copy.deepcopy(checked))), None)
    if error is not None:
        path = _json_path(getattr(error, "absolute_path", ()) or ())
        message = str(getattr(error, "message", error)).splitlines()[0][:_MESSAGE_CHARS]
        where = f" at {path}" if path else ""
        raise InvalidNotebook(
            NotebookProblem(f"The notebook is not valid nbformat{where}: {message}", path or None)
        )
    if checked is data:
        raise InvalidNotebook(NotebookProblem("The notebook is not valid nbformat."))
    nb = nbformat.from_dict(checked)
    problem = check_notebook(nb)  # what the executor itself insists on
    if problem is not None:
        raise InvalidNotebook(NotebookProblem(f"The notebook cannot be run: {problem}."))
    return nb


def notebook_problem(content: bytes | str | Mapping[str, Any]) -> NotebookProblem | None:
    """None when ``content`` is a valid notebook, else what is wrong."""
    try:
        read_notebook(content)
    except InvalidNotebook as exc:
        return exc.problem
    return None
