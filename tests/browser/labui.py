"""What a student does in JupyterLab with MUSCode, as Playwright steps."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
RUN_TIMEOUT = 60_000


def shot(page: Page, name: str) -> Path:
    """Save a screenshot of the page under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


class LabUI:
    def __init__(self, page: Page) -> None:
        self.page = page

    # -- side panel --------------------------------------------------------------

    @property
    def panel(self) -> Locator:
        return self.page.locator("#muscode-sidepanel")

    def open_panel(self) -> Locator:
        if not self.panel.is_visible():
            self.page.locator('[data-id="muscode-sidepanel"]').click()
        expect(self.panel.locator(".muscode-Projects")).to_be_visible()
        return self.panel

    def project_row(self, name: str) -> Locator:
        return self.panel.locator(
            f'.muscode-Project:not(.muscode-mod-deleted)[data-project="{name}"]'
        )

    def dialog(self) -> Locator:
        dialog = self.page.locator(".jp-Dialog")
        # The new-project dialog lists the server's available languages, which a server
        # that has just started may still be probing (seconds on a busy machine).
        expect(dialog).to_be_visible(timeout=30_000)
        return dialog

    def create_project(self, name: str, language: str) -> None:
        self.open_panel()
        dialog = self.page.locator(".jp-Dialog")
        # The panel re-renders when its data arrives; a click on the button it replaces
        # is lost, so click again (a person would too) if no dialog opened.
        for _ in range(3):
            self.panel.locator(".muscode-Projects-new").click()
            try:
                expect(dialog).to_be_visible(timeout=10_000)
                break
            except AssertionError:
                continue
        dialog = self.dialog()
        dialog.locator(".muscode-Form-name").fill(name)
        dialog.locator(".muscode-Form-language").select_option(language)
        dialog.get_by_role("button", name="Create").click()
        expect(dialog).to_be_hidden()
        expect(self.project_row(name)).to_be_visible()

    def new_file(self, project: str, filename: str) -> Locator:
        """Add a file to a project from its row; it opens in JupyterLab's editor."""
        self.project_row(project).locator(".muscode-Project-newFile").click()
        dialog = self.dialog()
        field = dialog.locator("input")
        field.fill(filename)
        dialog.get_by_role("button", name="OK").click()
        expect(dialog).to_be_hidden()
        return self.editor(filename)

    def use_theme(self, name: str) -> None:
        """Settings → Theme → ``name``, as a user picks it."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{name}$")).click()

    # -- editors -----------------------------------------------------------------

    def tab(self, label: str) -> Locator:
        return self.page.locator("#jp-main-dock-panel .lm-DockPanel-tabBar .lm-TabBar-tab").filter(
            has_text=re.compile(rf"^{re.escape(label)}$")
        )

    def editor(self, filename: str) -> Locator:
        """The editor of ``filename`` (waits until it is the visible document)."""
        self.tab(filename).first.click()
        editor = self.page.locator(".jp-FileEditor:visible").first
        expect(editor.locator(".cm-content")).to_be_visible()
        return editor

    def write(self, editor: Locator, code: str) -> None:
        """Replace the editor's text with ``code`` (as a paste: no auto-indent)."""
        editor.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)

    def editor_text(self, editor: Locator) -> str:
        lines = editor.locator(".cm-line").all_inner_texts()
        return "\n".join(lines)

    def save(self, editor: Locator, filename: str) -> None:
        editor.locator(".cm-content").click()
        self.page.keyboard.press("Control+s")

    def wait_saved(self, filename: str) -> None:
        expect(self.tab(filename).first).not_to_have_class(re.compile(r"jp-mod-dirty"))

    # -- running -----------------------------------------------------------------

    def run_from_toolbar(self, editor: Locator) -> Locator:
        """Press the editor's Run button; returns the output panel."""
        toolbar = editor.locator("xpath=ancestor::*[contains(@class,'jp-MainAreaWidget')][1]")
        toolbar.locator(".muscode-RunButton").click()
        return self.run_panel()

    def run_panel(self) -> Locator:
        panel = self.page.locator(".muscode-RunPanel:visible").first
        expect(panel).to_be_visible()
        return panel

    def execution_id(self, panel: Locator) -> str:
        return str(panel.locator(".muscode-RunPanel-body").get_attribute("data-execution-id"))

    def run_again(self, panel: Locator) -> None:
        """Press the panel's Run and wait until the new run has been accepted."""
        before = self.execution_id(panel)
        panel.locator(".muscode-RunPanel-run").click()
        body = panel.locator(".muscode-RunPanel-body")
        expect(body).not_to_have_attribute("data-execution-id", before or "-", timeout=RUN_TIMEOUT)
        expect(body).not_to_have_attribute("data-execution-id", "", timeout=RUN_TIMEOUT)

    def wait_done(self, panel: Locator) -> str:
        """Wait for the current run to end and return its verdict."""
        body = panel.locator(".muscode-RunPanel-body")
        expect(body).to_have_attribute(
            "data-phase", re.compile("^(done|failed)$"), timeout=RUN_TIMEOUT
        )
        verdict = panel.locator(".muscode-verdict")
        expect(verdict).to_be_visible()
        return str(verdict.inner_text())

    def output(self, panel: Locator, kind: str | None = None) -> str:
        out = panel.locator(".muscode-RunPanel-output")
        if kind is None:
            return str(out.inner_text())
        return "".join(out.locator(f".muscode-{kind}").all_inner_texts())

    def summary(self, panel: Locator) -> dict[str, str]:
        items: dict[str, Any] = {}
        for row in panel.locator(".muscode-RunPanel-summary > div").all():
            items[row.locator("dt").inner_text()] = row.locator("dd").inner_text()
        return items
