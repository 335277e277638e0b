"""The Docker backend's client of the Engine API, used from the event loop.

The ``docker`` SDK is blocking: every call runs in threads of this client's own (pool
refills take 0.2-0.5 s each and must not starve the application's default executor,
nor the other way round). The SDK is imported on first use: only this backend needs it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import os
from collections.abc import Callable
from typing import Any, TypeVar

from ..base import SandboxUnavailable

T = TypeVar("T")


def sdk() -> Any:
    """The ``docker`` SDK, imported on first use (through importlib: this package is
    itself called ``docker``)."""
    return importlib.import_module("docker")


class EngineClient:
    """One connection to the Engine, and the threads that talk to it."""

    def __init__(self, url: str | None) -> None:
        #: The Engine's URL; None: ``$DOCKER_HOST`` (and its TLS settings) or the local
        #: socket.
        self.url = url
        self._client: Any = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def is_local(self) -> bool:
        """Whether the Engine listens on a Unix socket of this machine."""
        url = self.url or os.environ.get("DOCKER_HOST") or "unix://"
        return url.startswith(("unix://", "http+unix://"))

    @property
    def api(self) -> Any:
        """The SDK's low-level ``APIClient`` (raises SandboxUnavailable when closed)."""
        if self._client is None:
            raise SandboxUnavailable("the docker sandbox is stopped")
        return self._client

    def start_threads(self) -> None:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=16, thread_name_prefix="muscode-docker"
            )

    def stop_threads(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking call (the SDK, file work) in our threads."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def connect(self) -> dict[str, Any]:
        """Connect and return the Engine's ``info`` (blocking); SandboxUnavailable when
        it does not answer."""
        docker = sdk()
        try:
            if self.url:
                client = docker.APIClient(base_url=self.url, version="auto", timeout=60)
            else:
                client = docker.from_env(version="auto", timeout=60).api
            info: dict[str, Any] = client.info()
        except Exception as exc:
            where = self.url or os.environ.get("DOCKER_HOST") or "the local socket"
            raise SandboxUnavailable(
                f"The Docker engine is unreachable at {where} ({exc}); "
                "start it with scripts/setup-docker.sh."
            ) from exc
        self._client = client
        return info

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def attach(self, container_id: str) -> Any:
        """A raw attach socket to the container's stdin, stdout and stderr (blocking)."""
        return self.api.attach_socket(
            container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )

    async def kill(self, container_id: str) -> None:
        """SIGKILL the container; gone already is fine."""
        docker = sdk()
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            await self.call(self.api.kill, container_id)

    async def stats(self, container_id: str) -> tuple[int, int | None] | None:
        """(CPU ns, peak memory bytes) from the Engine, or None when it has none."""
        try:
            stats = await self.call(self.api.stats, container_id, stream=False, one_shot=True)
        except Exception:
            return None
        cpu = (stats.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
        memory = stats.get("memory_stats") or {}
        if not cpu:
            return None
        return int(cpu), memory.get("max_usage") or memory.get("usage")
