"""Files: create, read with ETag, optimistic updates, renames, deletes, exact round trips."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import pytest

from .test_projects import make_project


async def new_file(api: Any, pid: str, path: str, content: str, **extra: Any) -> Any:
    reply = await api("POST", f"projects/{pid}/files", {"path": path, "content": content, **extra})
    assert reply.status == 201, reply.body
    return reply.json


async def test_file_lifecycle(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    created = await api("POST", f"projects/{pid}/files", {"path": "src/a.py", "content": "A = 1\n"})
    assert created.status == 201
    f = created.json
    assert created.headers["Location"].endswith(f"/projects/{pid}/files/{f['id']}")
    assert (f["version"], f["size"], f["path"]) == (1, 6, "src/a.py")
    assert f["sha256"] == hashlib.sha256(b"A = 1\n").hexdigest()
    assert "content" not in f

    listing = await api("GET", f"projects/{pid}/files")
    assert [x["path"] for x in listing.json] == ["main.py", "src/a.py"]
    assert all("content" not in x for x in listing.json)

    got = await api("GET", f"projects/{pid}/files/{f['id']}")
    assert got.json["content"] == "A = 1\n"
    assert got.json["encoding"] == "utf-8"
    tag = got.headers["ETag"]
    not_modified = await api(
        "GET", f"projects/{pid}/files/{f['id']}", headers={"If-None-Match": tag}, validate=False
    )
    assert not_modified.status == 304

    updated = await api(
        "PUT", f"projects/{pid}/files/{f['id']}", {"content": "A = 2\n", "version": 1}
    )
    assert updated.status == 200
    assert updated.json["version"] == 2
    assert updated.headers["ETag"] != tag

    moved = await api(
        "PUT",
        f"projects/{pid}/files/{f['id']}",
        {"path": "src/b.py"},
        headers={"If-Match": updated.headers["ETag"]},
    )
    assert moved.status == 200
    assert (moved.json["path"], moved.json["version"]) == ("src/b.py", 3)
    content = await api("GET", f"projects/{pid}/files/{f['id']}")
    assert content.json["content"] == "A = 2\n"

    assert (await api("DELETE", f"projects/{pid}/files/{f['id']}")).status == 204
    assert (await api("GET", f"projects/{pid}/files/{f['id']}")).status == 404
    assert [x["path"] for x in (await api("GET", f"projects/{pid}/files")).json] == ["main.py"]


async def test_stale_version_is_409_and_overwrites_nothing(api: Any) -> None:
    project = await make_project(api)
    pid, fid = project["id"], project["files"][0]["id"]
    first = await api("PUT", f"projects/{pid}/files/{fid}", {"content": "mine", "version": 1})
    assert first.status == 200
    stale = await api("PUT", f"projects/{pid}/files/{fid}", {"content": "theirs", "version": 1})
    assert stale.status == 409
    assert stale.json["reason"] == "stale_version"
    assert "version 2" in stale.json["message"]
    stale_header = await api(
        "PUT",
        f"projects/{pid}/files/{fid}",
        {"content": "theirs"},
        headers={"If-Match": '"v1-0000000000000000"'},
    )
    assert stale_header.status == 409
    got = await api("GET", f"projects/{pid}/files/{fid}")
    assert (got.json["content"], got.json["version"]) == ("mine", 2)


async def test_concurrent_updates_from_one_version_one_wins(api: Any) -> None:
    project = await make_project(api)
    pid, fid = project["id"], project["files"][0]["id"]
    for round_ in range(5):
        version = round_ + 1
        replies = await asyncio.gather(
            *(
                api(
                    "PUT",
                    f"projects/{pid}/files/{fid}",
                    {"content": f"writer {w} round {round_}", "version": version},
                )
                for w in range(2)
            )
        )
        statuses = sorted(r.status for r in replies)
        assert statuses == [200, 409], [r.body for r in replies]
        winner = next(r for r in replies if r.status == 200)
        got = await api("GET", f"projects/{pid}/files/{fid}")
        assert got.json["version"] == version + 1
        assert got.json["sha256"] == winner.json["sha256"]


ROUND_TRIPS = {
    "emoji.txt": "snake 🐍, family 👨‍👩‍👧, flag 🇺🇦\n",
    "rtl.txt": "שלום עולם — مرحبا بالعالم\u200f\n",
    "crlf.txt": "line one\r\nline two\r\n\r\n",
    "mixed.txt": "tab\tbell-free\nno newline at end",
    "zero-width.txt": "a\u200bb\ufeffc",
    "big.txt": ("0123456789abcdef" * 64 + "\n") * 1000,  # about 1 MB
}


async def test_unicode_content_round_trips_byte_for_byte(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    for path, text in ROUND_TRIPS.items():
        f = await new_file(api, pid, path, text)
        assert f["size"] == len(text.encode("utf-8"))
        assert f["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
        got = await api("GET", f"projects/{pid}/files/{f['id']}")
        assert got.json["content"] == text, path
        as_b64 = await api("GET", f"projects/{pid}/files/{f['id']}", params={"encoding": "base64"})
        assert base64.b64decode(as_b64.json["content"]) == text.encode("utf-8")
    assert len(ROUND_TRIPS["big.txt"].encode()) > 1_000_000


async def test_binary_content_goes_as_base64(api: Any) -> None:
    project = await make_project(api)
    blob = bytes(range(256)) * 4 + b"\xff\xfe\x00"
    f = await new_file(
        api, project["id"], "data.bin", base64.b64encode(blob).decode(), encoding="base64"
    )
    got = await api("GET", f"projects/{project['id']}/files/{f['id']}")
    assert got.json["encoding"] == "base64"
    assert base64.b64decode(got.json["content"]) == blob


async def test_non_utf8_text_is_refused_unless_base64(api: Any) -> None:
    project = await make_project(api)
    # A lone surrogate is valid JSON but not Unicode text.
    raw = '{"path": "bad.txt", "content": "\\ud800 broken"}'
    reply = await api("POST", f"projects/{project['id']}/files", raw=raw)
    assert reply.status == 422
    assert reply.json["errors"][0]["field"] == "content"
    assert "base64" in reply.json["message"]
    bad_b64 = await api(
        "POST",
        f"projects/{project['id']}/files",
        {"path": "x.bin", "content": "not base64!", "encoding": "base64"},
    )
    assert bad_b64.status == 422
    bad_encoding = await api(
        "POST",
        f"projects/{project['id']}/files",
        {"path": "x.bin", "content": "", "encoding": "latin-1"},
    )
    assert bad_encoding.status == 422


BAD_PATHS = {
    "../escape.py": "..",
    "a/../../b.py": "..",
    "/etc/passwd": "relative",
    "a\\b.py": "'/'",
    "nul\x00.py": "control",
    "bell\x07.py": "control",
    "new\nline.py": "control",
    "": "empty",
    "./": "name a file",
    " lead.py": "spaces",
    "x" * 256: "255 bytes",
    "é" * 128: "255 bytes",
}


async def test_bad_paths_are_refused_with_a_reason(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    for path, mention in BAD_PATHS.items():
        reply = await api("POST", f"projects/{pid}/files", {"path": path, "content": "x"})
        assert reply.status == 422, (path, reply.status)
        assert reply.json["errors"][0]["field"] == "path"
        assert mention in reply.json["message"], (path, reply.json["message"])
    files = await api("GET", f"projects/{pid}/files")
    assert [f["path"] for f in files.json] == ["main.py"]


async def test_paths_are_normalised(api: Any) -> None:
    project = await make_project(api)
    f = await new_file(api, project["id"], "./src//pkg/./mod.py", "")
    assert f["path"] == "src/pkg/mod.py"
    exactly_255 = await new_file(api, project["id"], "d/" + "x" * 253, "")
    assert len(exactly_255["path"]) == 255


async def test_path_conflicts_are_409(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    await new_file(api, pid, "pkg/mod.py", "")
    for path, reason in [
        ("main.py", "path_exists"),
        ("./main.py", "path_exists"),
        ("pkg", "path_is_folder"),
        ("main.py/x.py", "path_is_file"),
    ]:
        reply = await api("POST", f"projects/{pid}/files", {"path": path, "content": ""})
        assert reply.status == 409, path
        assert reply.json["reason"] == reason
    other = await new_file(api, pid, "other.py", "keep me")
    rename = await api(
        "PUT", f"projects/{pid}/files/{other['id']}", {"path": "main.py", "version": 1}
    )
    assert rename.status == 409
    got = await api("GET", f"projects/{pid}/files/{other['id']}")
    assert (got.json["path"], got.json["content"], got.json["version"]) == (
        "other.py",
        "keep me",
        1,
    )


async def test_update_input_errors(api: Any) -> None:
    project = await make_project(api)
    pid, fid = project["id"], project["files"][0]["id"]
    cases: list[tuple[Any, dict[str, str], int, str]] = [
        ({"content": "x"}, {}, 422, "version"),
        ({"content": "x", "version": "1"}, {}, 422, "version"),
        ({"version": 1}, {}, 422, "content"),
        ({"content": "x", "version": 1, "mode": "755"}, {}, 422, "mode"),
        ({"content": "x", "version": 1}, {"If-Match": "2"}, 422, "If-Match"),
        ({"content": "x"}, {"If-Match": "garbage"}, 422, "If-Match"),
        ({"path": "../x", "version": 1}, {}, 422, "path"),
    ]
    for body, headers, status, mention in cases:
        reply = await api("PUT", f"projects/{pid}/files/{fid}", body, headers=headers)
        assert reply.status == status, (body, reply.body)
        assert mention in reply.body.decode(), (body, reply.body)
    got = await api("GET", f"projects/{pid}/files/{fid}")
    assert got.json["version"] == 1
    missing = await api("PUT", f"projects/{pid}/files/nope", {"content": "x", "version": 1})
    assert missing.status == 404


@pytest.mark.parametrize(
    "muscode_config",
    [{"max_file_size": 1000, "max_project_size": 2500, "max_project_files": 4}],
)
async def test_size_caps_are_413_and_change_nothing(api: Any) -> None:
    project = await make_project(api)
    pid, fid = project["id"], project["files"][0]["id"]
    too_big = await api("POST", f"projects/{pid}/files", {"path": "big.txt", "content": "x" * 1001})
    assert too_big.status == 413
    assert too_big.json["reason"] == "file_too_large"
    assert "1000" in too_big.json["message"]
    b64 = base64.b64encode(b"\x00" * 1001).decode()
    assert (
        await api(
            "POST", f"projects/{pid}/files", {"path": "b.bin", "content": b64, "encoding": "base64"}
        )
    ).status == 413
    await new_file(api, pid, "a.txt", "x" * 1000)
    await new_file(api, pid, "b.txt", "x" * 1000)
    over_project = await api(
        "POST", f"projects/{pid}/files", {"path": "c.txt", "content": "x" * 600}
    )
    assert over_project.status == 413
    assert over_project.json["reason"] == "project_too_large"
    grow = await api("PUT", f"projects/{pid}/files/{fid}", {"content": "y" * 900, "version": 1})
    assert grow.status == 413
    await new_file(api, pid, "d.txt", "")
    too_many = await api("POST", f"projects/{pid}/files", {"path": "e.txt", "content": ""})
    assert too_many.status == 413
    assert too_many.json["reason"] == "too_many_files"
    files = (await api("GET", f"projects/{pid}/files")).json
    assert sorted(f["path"] for f in files) == ["a.txt", "b.txt", "d.txt", "main.py"]
    main = await api("GET", f"projects/{pid}/files/{fid}")
    assert main.json["version"] == 1


async def test_unknown_ids_are_404(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    for method, path in [
        ("GET", "projects/nope"),
        ("GET", "projects/nope/files"),
        ("GET", f"projects/{pid}/files/nope"),
        ("DELETE", f"projects/{pid}/files/nope"),
    ]:
        reply = await api(method, path)
        assert reply.status == 404, path
        json.dumps(reply.json)
