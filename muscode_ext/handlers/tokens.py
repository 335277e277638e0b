"""``/tokens``: mint, list and revoke bearer tokens."""

from __future__ import annotations

from ..services.tokens import TokenCreate
from .base import API_PREFIX, MuscodeHandler, api


class TokenListHandler(MuscodeHandler):
    @api
    async def get(self) -> None:
        self.write_json(await self.muscode.token_service.list_tokens(self.caller))

    @api
    async def post(self) -> None:
        t = await self.muscode.token_service.create(self.caller, self.parse(TokenCreate))
        self.set_header("Cache-Control", "no-store")  # the token is in the body
        self.write_json(t, 201, location=self.url("tokens", t["id"]))


class TokenHandler(MuscodeHandler):
    @api
    async def delete(self, token_id: str) -> None:
        await self.muscode.token_service.revoke(self.caller, token_id)
        self.no_content()


default_handlers = [
    (rf"{API_PREFIX}/tokens", TokenListHandler),
    (rf"{API_PREFIX}/tokens/(?P<token_id>[^/]+)", TokenHandler),
]
