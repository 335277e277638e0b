"""JupyterLab's Launcher: a MUSCode section with a "new project" card per language."""

from __future__ import annotations

import re

import pytest
from conftest import UNAVAILABLE_LANGUAGE, LabServer, require_playwright

require_playwright()

from labui import LabUI, shot  # noqa: E402
from playwright.sync_api import Locator, Page, expect  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def muscode_section(page: Page) -> Locator:
    """The Launcher's MUSCode section (a new Launcher is opened first)."""
    page.evaluate("window.jupyterapp.commands.execute('launcher:create')")
    title = page.locator(".jp-Launcher-sectionTitle", has_text=re.compile(r"^MUSCode$"))
    return page.locator(".jp-Launcher:visible .jp-Launcher-section").filter(has=title)


def test_the_launcher_makes_a_project_and_opens_its_main_file(
    page: Page, lab_server: LabServer
) -> None:
    ui = LabUI(page)
    section = muscode_section(page)
    card = section.locator(".jp-LauncherCard", has_text="Python project")
    # The cards follow the server's languages, which a fresh server may still be probing.
    expect(card).to_be_visible(timeout=60_000)
    # Only languages the server can run get a card.
    labels = section.locator(".jp-LauncherCard-label").all_inner_texts()
    assert not any(UNAVAILABLE_LANGUAGE.lower() in label.lower() for label in labels), labels
    shot(page, "40-launcher-muscode")

    card.click()
    dialog = ui.dialog()
    expect(dialog.locator(".muscode-Form-language")).to_have_value("python")
    dialog.locator(".muscode-Form-name").fill("from-launcher")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()

    # The project's main file opens in the editor, in the Launcher's place.
    editor = ui.editor("main.py")
    expect(editor.locator(".cm-content")).to_be_visible()
    expect(page.locator(".jp-Launcher:visible")).to_have_count(0)
    project = lab_server.project("from-launcher")
    assert project["language"] == "python"
    assert lab_server.file("from-launcher", "main.py")["size"] == 0
    # The side panel lists it too.
    ui.open_panel()
    expect(ui.project_row("from-launcher")).to_be_visible()


def test_a_launcher_card_of_another_language_preselects_it(page: Page) -> None:
    ui = LabUI(page)
    section = muscode_section(page)
    card = section.locator(".jp-LauncherCard", has_text=re.compile(r"^C project$"))
    expect(card).to_be_visible(timeout=60_000)
    card.click()
    dialog = ui.dialog()
    expect(dialog.locator(".muscode-Form-language")).to_have_value("c")
    # A bad name: the server's message shows, and nothing is left half-made.
    dialog.locator(".muscode-Form-name").fill("a/b")
    dialog.get_by_role("button", name="Create").click()
    error = page.locator(".jp-Dialog", has_text="New MUSCode project")
    expect(error).to_contain_text("must not contain")
    shot(page, "41-launcher-bad-name")
