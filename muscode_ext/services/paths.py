"""Validation of the names users give: file paths, project names, file contents."""

from __future__ import annotations

import base64
import binascii
import unicodedata

from ..errors import Invalid

MAX_PATH_BYTES = 255
MAX_PROJECT_NAME = 100


#: Unicode categories refused in names: controls (Cc), invisible formatting such as
#: bidi overrides and isolates, zero-width characters and the BOM (Cf), line and
#: paragraph separators (Zl, Zp), and lone surrogates (Cs). They make a name read
#: differently from what it is ("evil\u202eyp.exe" shows as "evilexe.py").
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _control_chars(value: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in value if unicodedata.category(c) in _REFUSED_CATEGORIES]


def normalize_path(path: str, field: str = "path") -> str:
    """Return the normal form of a project-relative path, or raise 422 saying why.

    Paths are ``/``-separated and relative; empty and ``.`` segments are dropped
    (``a//./b`` is ``a/b``); ``..``, absolute paths, backslashes, NUL and other control
    characters, and invisible formatting characters (bidi overrides, zero-width
    characters, line separators) are refused, and the result is at most 255 bytes of
    UTF-8.
    """
    if not path:
        raise Invalid.field(field, "must not be empty")
    bad = _control_chars(path)
    if bad:
        raise Invalid.field(
            field,
            f"must not contain control or invisible formatting characters ({', '.join(bad[:3])})",
        )
    if path.startswith("/"):
        raise Invalid.field(field, "must be relative to the project (no leading '/')")
    if "\\" in path:
        raise Invalid.field(field, "must use '/' to separate folders, not '\\'")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise Invalid.field(field, "must not contain '..'")
    if not parts:
        raise Invalid.field(field, "must name a file")
    if any(p != p.strip() for p in parts):
        raise Invalid.field(field, "folder and file names must not start or end with spaces")
    normal = "/".join(parts)
    if len(normal.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise Invalid.field(field, f"must be at most {MAX_PATH_BYTES} bytes long")
    return normal


def check_project_name(name: str, field: str = "name") -> str:
    """Project names are shown as folders: no '/', no control characters, not blank."""
    stripped = name.strip()
    if not stripped:
        raise Invalid.field(field, "must not be blank")
    if len(stripped) > MAX_PROJECT_NAME:
        raise Invalid.field(field, f"must be at most {MAX_PROJECT_NAME} characters")
    bad = _control_chars(stripped)
    if bad:
        raise Invalid.field(
            field,
            f"must not contain control or invisible formatting characters ({', '.join(bad[:3])})",
        )
    if "/" in stripped or "\\" in stripped:
        raise Invalid.field(field, "must not contain '/' or '\\'")
    if stripped in (".", ".."):
        raise Invalid.field(field, "must not be '.' or '..'")
    return stripped


def decode_content(content: str, encoding: str, field: str = "content") -> bytes:
    """The bytes a request's ``content`` stands for (UTF-8 text or base64)."""
    if encoding == "base64":
        try:
            return base64.b64decode(content.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise Invalid.field(field, "is not valid base64") from None
    try:
        return content.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid.field(
            field, "is not valid Unicode text; send binary content with encoding 'base64'"
        ) from None


def encode_content(data: bytes, prefer: str | None = None) -> tuple[str, str]:
    """(content, encoding) for a response: UTF-8 text when it is, else base64."""
    if prefer != "base64":
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "base64"
