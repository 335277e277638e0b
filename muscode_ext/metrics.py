"""Prometheus metrics. They are registered in prometheus-client's default registry, so
they appear on Jupyter Server's own ``{base_url}metrics`` endpoint (and on a worker's
``--metrics-port`` when ``muscode-worker`` serves one)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from prometheus_client import Counter, Gauge, Histogram

from .queue import LANES

RUNS = Counter(
    "muscode_runs_total", "Finished runs, by language and verdict.", ["language", "verdict"]
)
QUEUE_WAIT = Histogram(
    "muscode_queue_wait_seconds",
    "Time from submission to the start of a run.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
RUN_DURATION = Histogram(
    "muscode_run_duration_seconds",
    "Time from the start of a run to its end (compile and every test), by language.",
    ["language"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
SANDBOX_FAILURES = Counter(
    "muscode_sandbox_failures_total",
    "Runs that ended in internal_error because the sandbox failed, by backend.",
    ["backend"],
)
BUILDS = Counter(
    "muscode_builds_total",
    "Compile steps of finished runs: 'compiled', or 'reused' (an identical earlier "
    "build of the same user, from the sandbox's build cache).",
    ["language", "build"],
)
REJECTED = Counter(
    "muscode_runs_rejected_total",
    "Runs refused before queueing, by reason (rate_limited, queue_full...).",
    ["reason"],
)
QUEUE_DEPTH = Gauge("muscode_queue_depth", "Runs waiting in the queue (this server's view).")
QUEUE_LANE_DEPTH = Gauge(
    "muscode_queue_lane_depth",
    "Runs waiting in each lane of the queue: interactive (people's runs, served first) "
    "and bulk (grading, regrades, checks of tests).",
    ["lane"],
)


def watch_queue_depth(depth: Callable[..., int]) -> None:
    """Report ``depth()`` and each lane's ``depth(lane)`` whenever the metrics are
    scraped."""
    QUEUE_DEPTH.set_function(depth)
    for lane in LANES:
        QUEUE_LANE_DEPTH.labels(lane).set_function(partial(depth, lane))
