"""``/languages`` and ``/executions``."""

from __future__ import annotations

import math

from ..errors import Invalid
from ..services.run_requests import ExecutionBatch, ExecutionCreate
from ..services.run_status import RunStatus
from .base import API_PREFIX, MuscodeHandler, api
from .bodies import UPLOAD

MAX_WAIT_SECONDS = 300.0
MAX_IDS = 100


class LanguagesHandler(MuscodeHandler):
    @api
    async def get(self) -> None:
        self.write_json(await self.muscode.executions.list_languages())


class ExecutionListHandler(MuscodeHandler):
    body_cap = UPLOAD  # files and programs

    @api
    async def get(self) -> None:
        ids = self.get_query_argument("ids", None)
        id_list = [i for i in ids.split(",") if i] if ids is not None else None
        if id_list is not None and len(id_list) > MAX_IDS:
            raise Invalid.field("ids", f"at most {MAX_IDS} ids at a time")
        status = self.get_query_argument("status", None)
        if status not in (None, *RunStatus):
            raise Invalid.field("status", "must be queued, running or done")
        self.write_json(
            await self.muscode.executions.list_runs(
                self.caller,
                ids=id_list,
                project_id=self.get_query_argument("project_id", None),
                status=status,
                limit=self._int_query("limit", 50, 1, 200),
                before=self.get_query_argument("before", None),
            )
        )

    @api
    async def post(self) -> None:
        wait = self.query_bool("wait")
        timeout = self._timeout()
        run = await self.muscode.executions.submit(self.caller, self.parse(ExecutionCreate))
        location = self.url("executions", run["id"])
        if not wait:
            self.write_json(run, 201, location=location)
            return
        run = await self.muscode.executions.wait(self.caller, run["id"], timeout, submitted=run)
        self.write_json(run, 200 if run["status"] == "done" else 202, location=location)

    def _timeout(self) -> float:
        raw = self.get_query_argument("timeout", None)
        if raw is None:
            return 60.0
        try:
            value = float(raw)
        except ValueError:
            raise Invalid.field("timeout", "must be a number of seconds") from None
        if not math.isfinite(value) or not 0 < value <= MAX_WAIT_SECONDS:
            raise Invalid.field("timeout", f"must be between 0 and {MAX_WAIT_SECONDS:g} seconds")
        return value

    def _int_query(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Invalid.field(name, "must be a whole number") from None
        if not low <= value <= high:
            raise Invalid.field(name, f"must be between {low} and {high}")
        return value


class ExecutionHandler(MuscodeHandler):
    @api
    async def get(self, execution_id: str) -> None:
        self.write_json(await self.muscode.executions.get(self.caller, execution_id))


class ExecutionCancelHandler(MuscodeHandler):
    @api
    async def post(self, execution_id: str) -> None:
        self.write_json(await self.muscode.executions.cancel(self.caller, execution_id))


class ExecutionBatchHandler(MuscodeHandler):
    body_cap = UPLOAD  # files and programs

    @api
    async def post(self) -> None:
        batch = self.parse(ExecutionBatch)
        ids = await self.muscode.executions.submit_batch(self.caller, batch.submissions)
        self.write_json({"ids": ids}, 201)


_ID = r"(?P<execution_id>[^/]+)"

default_handlers = [
    (rf"{API_PREFIX}/languages", LanguagesHandler),
    (rf"{API_PREFIX}/executions", ExecutionListHandler),
    (rf"{API_PREFIX}/executions/batch", ExecutionBatchHandler),
    (rf"{API_PREFIX}/executions/{_ID}", ExecutionHandler),
    (rf"{API_PREFIX}/executions/{_ID}/cancel", ExecutionCancelHandler),
]
