"""The README's pictures, one per screen, from the app replaying recorded engine replies (the
snapshot tests' recording, tests/snapshots): `.venv/bin/python docs/pictures.py` writes
docs/pictures/<screen>.svg at 80x24 (other sizes would ask for what was not recorded). Record again first when the screens changed:
`python -m tests.snapshots.record`."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import screens.training.screen as training_screen
from tests.snapshots.replay import (
    CONFIG,
    HOME,
    SCENARIOS,
    SIZE,
    ReplayApp,
    ReplayLink,
    drive,
    load_recording,
)

PICTURES = {  # the picture's name: the scenario it shows
    "datasets": "datasets-rows",
    "tokenizers": "tokenizers-model-input",
    "embeddings": "embeddings-neighbours",
    "builder": "builder",
    "training": "training-plots",
    "predict": "predict-explained",
    "attack": "attack-summary",
}


def main() -> None:
    from textual._doc import take_svg_screenshot

    recording = load_recording()
    clock = type("Clock", (), {"time": staticmethod(lambda: recording.now)})
    training_screen.time = clock  # type: ignore[assignment]  # "now" when recorded
    os.environ["TZ"] = "UTC"
    time.tzset()
    out = Path(__file__).parent / "pictures"
    out.mkdir(exist_ok=True)
    for name, scenario in PICTURES.items():
        shutil.rmtree(CONFIG, ignore_errors=True)
        os.environ["XDG_CONFIG_HOME"] = str(CONFIG)
        ReplayLink.scenario, ReplayLink.missing = recording.scenarios[scenario], []
        svg = take_svg_screenshot(
            app=ReplayApp(HOME), terminal_size=SIZE, run_before=drive(SCENARIOS[scenario])
        )
        (out / f"{name}.svg").write_text(svg)
        print(f"wrote {out / name}.svg", "(missing replies)" if ReplayLink.missing else "")


if __name__ == "__main__":
    main()
