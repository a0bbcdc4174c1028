"""Export docs/screenshot.svg from the real app on a throwaway home and engine.

.venv/bin/python docs/screenshot.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.paths import resolve_home
from tests.conftest import start_engine, stop_engine
from workbench.app import WorkbenchApp
from workbench.widgets.row_table import RowTable


async def shoot(home_dir: Path, out: Path) -> None:
    app = WorkbenchApp(resolve_home(home_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        while getattr(app.screen, "current", None) is None:
            await pilot.pause(0.1)
        table = app.screen.query_one(RowTable)
        while table.row_at(0) is None:
            await pilot.pause(0.1)
        await pilot.press("slash", *"brilliant", "enter")
        await pilot.pause(1.0)
        await pilot.press("down", "down")
        await pilot.pause(1.0)
        app.save_screenshot(str(out))


def main() -> None:
    out = Path(__file__).parent / "screenshot.svg"
    with tempfile.TemporaryDirectory() as tmp:
        home = resolve_home(Path(tmp) / "home")
        proc = start_engine(home)
        try:
            asyncio.run(shoot(Path(tmp) / "home", out))
        finally:
            stop_engine(proc)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
