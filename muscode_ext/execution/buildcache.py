"""Builds kept for the next identical job, so that Run again (or Check, then Submit) of
the same code does not compile it twice.

A build is the compile step's archive of its work dir (see ``archives``) and what the
compiler printed. It is kept only when the compile succeeded, under a key that holds
everything that decides the build: whose it is (the job's ``build_scope``, the owner
of the run by default), the language's compile command, the compiler options, the
compile limits, the language's environment, every source file's path and bytes, and
the toolchain the backend compiles with (the compiler binary on the host, the image's
id under Docker). A job without a ``build_scope`` is never cached, so one user's build
is never handed to another; nor is one whose source uses ``__TIME__``, ``__DATE__`` or
``__TIMESTAMP__`` (each compile differs). A hit is unpacked with the same hostile-input
rules as a fresh build.

The key is made by ``programs.build_key``; the cache is an LRU bounded in bytes, in
the server's (or worker's) memory, one per sandbox (``Sandbox.build_cache_mb``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedBuild:
    """A successful build: the compile step's work dir archive, and its messages."""

    archive: bytes
    output: str

    @property
    def size(self) -> int:
        return len(self.archive) + len(self.output.encode())


class BuildCache:
    """Successful builds by :func:`build_key`, least recently used dropped first once
    they weigh more than ``max_bytes`` (0: nothing is kept)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        #: Lookups that found a build, and that did not.
        self.hits = 0
        self.misses = 0
        self._builds: OrderedDict[str, CachedBuild] = OrderedDict()

    def __len__(self) -> int:
        return len(self._builds)

    def get(self, key: str | None) -> CachedBuild | None:
        if key is None or self.max_bytes <= 0:
            return None
        build = self._builds.get(key)
        if build is None:
            self.misses += 1
            return None
        self._builds.move_to_end(key)
        self.hits += 1
        return build

    def put(self, key: str | None, build: CachedBuild) -> None:
        """Keep ``build`` (a successful one) under ``key``; one larger than the whole
        cache is not kept."""
        if key is None or self.max_bytes <= 0 or build.size > self.max_bytes:
            return
        old = self._builds.pop(key, None)
        if old is not None:
            self.size -= old.size
        self._builds[key] = build
        self.size += build.size
        while self.size > self.max_bytes:
            _, dropped = self._builds.popitem(last=False)
            self.size -= dropped.size

    def forget(self, key: str | None) -> None:
        """Drop the build under ``key`` (it could not be used)."""
        if key is not None:
            old = self._builds.pop(key, None)
            if old is not None:
                self.size -= old.size
