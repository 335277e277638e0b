"""``jupyter muscode db upgrade|current``: the database's schema, from the shell."""

from __future__ import annotations

import sys

from jupyter_core.application import JupyterApp
from traitlets import Unicode, default

from .settings import default_db_url
from .store import upgrade as upgrade_schema
from .store.db import schema_state


class DbCommand(JupyterApp):
    """What the ``db`` subcommands share: which database."""

    db_url = Unicode(help="Database URL (default: $MUSCODE_DB_URL, else the SQLite default).").tag(
        config=True
    )
    aliases = {"db-url": "DbCommand.db_url"}

    @default("db_url")
    def _default_db_url(self) -> str:
        return default_db_url(self.data_dir)


class DbUpgradeApp(DbCommand):
    """Apply MUSCode's database migrations (back the database up first)."""

    name = "jupyter-muscode-db-upgrade"
    description = "Upgrade the MUSCode database schema to this version's."
    aliases = {"db-url": "DbUpgradeApp.db_url"}

    def start(self) -> None:
        before, head = schema_state(self.db_url)
        if before == head:
            print(f"MUSCode database is current (revision {head}).")
            return
        upgrade_schema(self.db_url)
        print(f"MUSCode database upgraded from {before or 'empty'} to {head}.")


class DbCurrentApp(DbCommand):
    """Print the database's schema revision and this version's."""

    name = "jupyter-muscode-db-current"
    description = "Show the MUSCode database schema revision."
    aliases = {"db-url": "DbCurrentApp.db_url"}

    def start(self) -> None:
        current, head = schema_state(self.db_url)
        state = "current" if current == head else "behind: run `jupyter muscode db upgrade`"
        print(f"database revision: {current or 'empty'}; this MUSCode needs {head} ({state})")


class DbApp(JupyterApp):
    name = "jupyter-muscode-db"
    description = "Manage the MUSCode database: `upgrade`, `current`."
    subcommands = {
        "upgrade": (DbUpgradeApp, DbUpgradeApp.description),
        "current": (DbCurrentApp, DbCurrentApp.description),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("usage: jupyter muscode db upgrade|current [--db-url=URL]", file=sys.stderr)
            self.exit(2)
        assert self.subapp is not None
        self.subapp.start()


__all__ = ["DbApp", "DbCurrentApp", "DbUpgradeApp"]
