"""Removing a job's directory tree never changes anything outside the tree."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from muscode_ext.execution.hostfiles import remove_tree


def test_an_unwritable_directory_inside_the_tree_is_removed(tmp_path: Path) -> None:
    job = tmp_path / "job"
    locked = job / "a" / "locked"
    locked.mkdir(parents=True)
    (locked / "f").write_text("x")
    (job / "a").chmod(0o500)  # as a program might leave it
    os.mkfifo(job / "fifo")
    (job / "link").symlink_to("/etc/passwd")
    remove_tree(job)
    assert not job.exists()
    assert Path("/etc/passwd").exists()


def test_the_parent_keeps_its_mode_when_the_root_cannot_be_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "shared"
    parent.mkdir()
    parent.chmod(0o1777)  # like /tmp
    job = parent / "job"
    job.mkdir()
    real_rmdir = os.rmdir

    def rmdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.path.abspath(path) == str(job):
            raise FileNotFoundError(path)  # removed meanwhile by another cleanup
        real_rmdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "rmdir", rmdir)
    remove_tree(job)
    assert stat.S_IMODE(parent.stat().st_mode) == 0o1777
    monkeypatch.undo()
    shutil.rmtree(job, ignore_errors=True)


def test_a_missing_tree_is_fine(tmp_path: Path) -> None:
    remove_tree(tmp_path / "never-made")
