"""Binding ids remap from keys.toml; a broken file is reported and the defaults stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.engine import RunningEngine
from tests.helpers.screens import wait_for
from workbench.app import WorkbenchApp
from workbench.keys import load_keymap


def test_load_keymap_reads_ids_and_reports_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "keys.toml"
    good.write_text('[keys]\n"app.help" = "f2"\n"datasets.import" = "I"\n')
    assert load_keymap(good) == ({"app.help": "f2", "datasets.import": "I"}, "")
    bad = tmp_path / "bad.toml"
    bad.write_text("[keys\n")
    keymap, problem = load_keymap(bad)
    assert keymap == {} and "bad.toml" in problem and "default keys" in problem
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("keys = 3\n")
    assert "expected a [keys] table" in load_keymap(wrong)[1]


async def test_a_remapped_key_works_in_the_app(
    engine: RunningEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    (config / "nlp-workbench").mkdir(parents=True)
    (config / "nlp-workbench" / "keys.toml").write_text('[keys]\n"app.help" = "f2"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    app = WorkbenchApp(engine.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.connected)
        await pilot.press("f2")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        help_rows = {row[3]: row[1] for row in app.screen.rows}  # type: ignore[attr-defined]
        assert help_rows["app.help"] == "f2"  # the help shows the remapped key
