"""Record the engine's replies that the snapshot tests replay: `python -m tests.snapshots.record`.

A real engine on a fresh home trains two small seeded runs (Rotten Tomatoes and Reuters R8,
embedding bags), then the app is driven through every scenario in replay.SCENARIOS with each
reply kept. Run it again when a screen starts asking the engine something new (the snapshot
tests then fail, naming the call that has no reply), and review the pictures after
`pytest tests/snapshots --snapshot-update`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.paths import resolve_home
from tests.helpers.engine import ROOT, start_engine, stop_engine
from tests.snapshots.replay import (
    CONFIG,
    HOME,
    SCENARIOS,
    SIZE,
    Recording,
    RecordingApp,
    RecordingLink,
    Scenario,
    save_recording,
)

RUNS = {
    "rt-bag": """
name = "rt-bag"
[data]
dataset = "rotten-tomatoes"
tokenizer = "minilm-wordpiece"
max_length = 64
[model]
arch = "embedding-bag"
embed_dim = 32
[train]
lr = 5e-3
epochs = 1
batch_size = 32
max_steps = 240
eval_every = 60
checkpoint_every = 60
seed = 7
""",
    "r8-bag": """
name = "r8-bag"
[data]
dataset = "reuters-r8"
tokenizer = "minilm-wordpiece"
validation_split = "test"
max_length = 96
[model]
arch = "embedding-bag"
embed_dim = 32
[train]
lr = 1e-2
epochs = 1
batch_size = 32
max_steps = 160
eval_every = 40
checkpoint_every = 40
metric = "macro_f1"
seed = 3
""",
}


def workbench(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(HOME), *args],
        cwd=ROOT,
        check=True,
        timeout=900,
    )


def warm_tokenizers() -> None:
    """Load every tokenizer once, so that none answers late in a scenario (SmolLM2's, read
    from its GGUF file when the optional asset is installed, takes seconds)."""
    import json

    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--home", str(HOME), "tokenizers", "list", "--json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    for info in json.loads(out.stdout):
        if info.get("available"):
            workbench("tokenize", "--tokenizer", info["name"], "warm up")


async def record_one(keys: list[str]) -> Scenario:
    scenario = Scenario()
    RecordingLink.scenario, RecordingLink.answered = scenario, 0
    shutil.rmtree(CONFIG, ignore_errors=True)
    os.environ["XDG_CONFIG_HOME"] = str(CONFIG)  # a fresh view state: the screens as first seen
    app = RecordingApp(HOME)
    async with app.run_test(size=SIZE) as pilot:
        while not app.connected:
            await pilot.pause(0.05)
        await pilot.pause(2.0)  # the catalog's lists
        for key in keys:
            await pilot.press(key)
            await pilot.pause(1.5)
        await pilot.pause(4.0)  # what the screen asks for once shown
        assert isinstance(app.link, RecordingLink)
        app.link.keep_state()
    return scenario


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    shutil.rmtree(HOME.parent, ignore_errors=True)
    home = resolve_home(HOME)
    proc = start_engine(home)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in RUNS.items():
                path = Path(tmp) / f"{name}.toml"
                path.write_text(text)
                workbench("train", str(path), "--follow")
        warm_tokenizers()
        recording = Recording(now=time.time())
        for name, keys in SCENARIOS.items():
            print(f"recording {name}: {keys}", flush=True)
            recording.scenarios[name] = asyncio.run(record_one(keys))
        save_recording(recording)
        print(f"recorded {len(recording.scenarios)} scenarios")
    finally:
        stop_engine(proc)
        shutil.rmtree(HOME.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
