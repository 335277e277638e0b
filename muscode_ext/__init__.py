"""MUSCode for Jupyter: a classroom coding platform built into the Jupyter stack."""

from __future__ import annotations

from typing import Any

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import MuscodeApp

    return [{"module": "muscode_ext.app", "app": MuscodeApp}]


__all__ = ["__version__"]
