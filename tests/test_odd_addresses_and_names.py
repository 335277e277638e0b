"""Addresses and names that look harmless but are not.

Callback URLs: IPv6 forms that carry an IPv4 address inside them (6to4, Teredo, NAT64,
IPv4-mapped, IPv4-compatible, IPv4-translated) reach that IPv4 address through a relay
or a translator, so they are judged by it: loopback, private and link-local ones are
refused like the plain address. File paths: bidi overrides, zero-width characters and
other invisible format or separator characters make a path read differently from what
it is, so they are refused with a 422 that names the character.
"""

from __future__ import annotations

from typing import Any

import pytest

from muscode_ext.errors import Invalid
from muscode_ext.services.callbacks import _forbidden
from muscode_ext.services.paths import check_project_name, normalize_path

from .test_projects import make_project

SECRET = "callback-secret-" + "9" * 32
QUICK = {"language": "python", "source": "print('hi')"}

#: IPv6 addresses whose embedded IPv4 address is loopback, private or link-local.
EMBEDDED_PRIVATE = [
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254 (cloud metadata)
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:7f00:1:8000:63bf:80ff:fffe",  # Teredo, server 127.0.0.1
    "2001:0:4136:e378:8000:63bf:5601:56fe",  # Teredo, client 169.254.169.1 (obfuscated)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::a9fe:a9fe",
    "::ffff:0:7f00:1",  # IPv4-translated
]


@pytest.mark.parametrize("address", EMBEDDED_PRIVATE)
def test_ipv6_forms_of_private_ipv4_addresses_are_forbidden(address: str) -> None:
    assert _forbidden(address), address


@pytest.mark.parametrize("address", ["2606:4700:4700::1111", "8.8.8.8", "2a00:1450:4001::200e"])
def test_public_addresses_stay_allowed(address: str) -> None:
    assert not _forbidden(address)


@pytest.mark.parametrize("muscode_config", [{"callback_secret": SECRET}])
async def test_callback_urls_in_embedded_ipv4_forms_are_refused(api: Any) -> None:
    for address in EMBEDDED_PRIVATE:
        url = f"http://[{address}]:8080/hook"
        reply = await api("POST", "executions", {**QUICK, "callback_url": url})
        assert reply.status == 422, url
        assert reply.json["errors"][0]["field"] == "callback_url", url
    assert (await api("GET", "executions")).json == []


#: Characters that change how a name is shown without being seen themselves.
INVISIBLE = [
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u202a",  # LEFT-TO-RIGHT EMBEDDING
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u2067",
    "\u2068",
    "\u2069",  # POP DIRECTIONAL ISOLATE
    "\u200b",  # ZERO WIDTH SPACE
    "\u200c",
    "\u200d",
    "\u200e",  # LEFT-TO-RIGHT MARK
    "\u200f",
    "\ufeff",  # BYTE ORDER MARK
    "\u2028",  # LINE SEPARATOR (Zl)
    "\u2029",  # PARAGRAPH SEPARATOR (Zp)
    "\u00ad",  # SOFT HYPHEN (Cf)
    "\u0085",  # NEXT LINE (Cc)
]


@pytest.mark.parametrize("char", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_invisible_characters_are_refused_in_paths_and_project_names(char: str) -> None:
    with pytest.raises(Invalid) as info:
        normalize_path(f"src/evil{char}txt.py")
    assert f"U+{ord(char):04X}" in info.value.message
    with pytest.raises(Invalid):
        check_project_name(f"home{char}work")


def test_ordinary_unicode_names_are_fine() -> None:
    assert normalize_path("données/été.py") == "données/été.py"
    assert normalize_path("中文/ملف.py") == "中文/ملف.py"
    assert normalize_path("my file.py") == "my file.py"
    assert check_project_name("Übung 1") == "Übung 1"


async def test_a_bidi_override_in_a_file_path_is_a_clear_422(api: Any) -> None:
    project = await make_project(api)
    pid = project["id"]
    # Shown as "evilyp.exe" reversed: the classic extension spoof.
    reply = await api(
        "POST", f"projects/{pid}/files", {"path": "evil\u202eyp.exe", "content": "x = 1\n"}
    )
    assert reply.status == 422, reply.body
    assert reply.json["errors"][0]["field"] == "path"
    assert "U+202E" in reply.json["message"]
    f = (await api("GET", f"projects/{pid}/files")).json[0]
    moved = await api(
        "PUT", f"projects/{pid}/files/{f['id']}", {"path": "main\u200b.py", "version": 1}
    )
    assert moved.status == 422 and "U+200B" in moved.json["message"]
    assert [x["path"] for x in (await api("GET", f"projects/{pid}/files")).json] == ["main.py"]
