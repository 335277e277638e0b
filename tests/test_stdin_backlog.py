"""A run's unread stdin is bounded per run and across one user's runs (docs/limits.md)."""

from __future__ import annotations

from muscode_ext.services.stdin import StdinBacklog, UserShares


async def test_unread_stdin_is_bounded_per_run_and_per_user() -> None:
    shares = UserShares()
    first = StdinBacklog("sam", shares, limit=80, user_limit=100)
    second = StdinBacklog("sam", shares, limit=80, user_limit=100)
    other = StdinBacklog("sue", shares, limit=80, user_limit=100)

    assert first.offer(b"x" * 60)
    assert not first.offer(b"x" * 30)  # over this run's 80
    assert not second.offer(b"x" * 50)  # over sam's 100 across runs
    assert second.offer(b"x" * 40)
    assert other.offer(b"x" * 80)  # another user's share is their own

    # What a program reads no longer counts.
    chunks = first.chunks(first=b"")
    assert await anext(chunks) == b"x" * 60
    assert first.pending == 0 and shares.held["sam"] == 40
    assert second.offer(b"x" * 40)

    # A run that ends gives back what its program never read.
    second.close()
    assert "sam" not in shares.held
    assert first.offer(b"x" * 80)
    await chunks.aclose()
