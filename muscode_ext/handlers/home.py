"""The service's landing page: what a browser sees at the root of MUSCode under JupyterHub.

The hub's home page links its services (``Services → muscode``) to the service's root.
A browser asking for HTML there gets a short page: who they are, their classes with
their role in each, and a link to their own JupyterLab, where MUSCode is used. Any
other client is sent on where the root always sent it (the JSON health report).
"""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from ..server import MuscodeServer
from .base import AUTH_RESOURCE


def wants_html(accept: str) -> bool:
    """True for a browser's navigation (``Accept: text/html,...``), not for API clients."""
    return any(part.split(";")[0].strip() == "text/html" for part in accept.split(","))


class HomeHandler(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    auth_resource = AUTH_RESOURCE

    async def get(self) -> None:
        if wants_html(self.request.headers.get("Accept", "")):
            shown = self.page()  # None when it sent the browser to log in
            if shown is not None:
                await shown
            return
        url = self.settings["default_url"]
        if self.request.query:
            url += ("&" if "?" in url else "?") + self.request.query
        self.redirect(url)

    @web.authenticated
    @authorized(resource=AUTH_RESOURCE)
    async def page(self) -> None:
        muscode = getattr(self.extensionapp, "server", None)
        assert isinstance(muscode, MuscodeServer), "the landing page runs where MUSCode does"
        caller = await muscode.authenticator.from_jupyter_user(self.current_user)
        hub = os.environ.get("JUPYTERHUB_BASE_URL") or "/"
        self.set_header("Cache-Control", "no-store")
        self.write(
            self.render_template(
                "home.html",
                user=caller.name,
                admin=caller.admin,
                classes=await muscode.class_service.memberships_of(caller.name),
                lab_url=url_path_join(hub, "hub/user-redirect/lab"),
                hub_home=url_path_join(hub, "hub/home"),
            )
        )


#: Registered by the service only (under JupyterHub, not relaying): on a server of
#: one's own the root belongs to JupyterLab.
home_handlers = [(r"/?", HomeHandler)]
