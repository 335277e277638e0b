"""The base of every request body the services accept."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictInput(BaseModel):
    """A JSON body with exactly the fields it declares, of exactly their types."""

    model_config = ConfigDict(extra="forbid", strict=True)
