"""Tokenizer figures: engine encoding vs `tokenizers` directly, keystroke to chips, padding.

Peers: `encode_batch` of the same tokenizer.json called in this process (the
floor: no socket, no copies), alternated with the engine run; and the padded
share of per-batch padding on shuffled batches beside length bucketing.
"""

from __future__ import annotations

import os
import time

from bench.common import median, pct, row
from engine import protocol as P
from engine.core.assets import minilm_folder
from engine.paths import Home
from workbench.engine.client import EngineClient


def _minilm_direct():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    folder = minilm_folder()
    assert folder is not None, "the benchmark needs the bundled MiniLM (make bench installs it)"
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


async def encode_throughput(home: Home, rounds: int = 5) -> list[dict[str, str]]:
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    await client.ask(P.DatasetOpen(name="rotten-tomatoes"))
    page = await client.ask(
        P.DatasetRows(name="rotten-tomatoes", limit=10_000, max_chars=5_000)
    )  # whole texts (under 300 chars), within the reply limit
    texts = [r.text for r in page.rows]
    page2 = await client.ask(
        P.DatasetRows(name="rotten-tomatoes", offset=10_000, limit=10_000, max_chars=5_000)
    )
    texts += [r.text for r in page2.rows]
    direct = _minilm_direct()
    call = P.Tokenize(tokenizer="minilm-wordpiece", texts=texts, detail=False)
    await client.ask(call)  # warm: loads the tokenizer in the engine
    ours, theirs, fast = [], [], []
    for _ in range(rounds):  # alternate: the machine is shared
        t0 = time.perf_counter()
        await client.ask(call)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        direct.encode_batch(texts)
        theirs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        direct.encode_batch_fast(texts)
        fast.append(time.perf_counter() - t0)
    await client.close()
    n = len(texts)
    o, d, f = n / median(ours), n / median(theirs), n / median(fast)
    name = f"encoding {n:,} Rotten Tomatoes texts through the engine (MiniLM, ids packed)"
    return [
        row(
            name,
            f"{o:,.0f} texts/s",
            ">= 0.9x direct",
            f"{d:,.0f} texts/s encode_batch",
            f"{o / d:.2f}x encode_batch",
        ),
        row(
            "same, against the faster peer",
            f"{o:,.0f} texts/s",
            "",
            f"{f:,.0f} texts/s encode_batch_fast",
            f"{o / f:.2f}x encode_batch_fast",
        ),
    ]


FLOOR_APP = """
from textual.app import App
from textual.widgets import Static, TextArea
class Floor(App):
    def compose(self):
        yield TextArea("I love my dog", id="t")
        yield Static("minilm-wordpiece (4)", id="s")
    def on_text_area_changed(self, event):
        self.query_one("#s").update(f"minilm-wordpiece ({len(event.text_area.text.split())})")
Floor().run()
"""


def _type_and_time(
    command: str, start_keys: list[str], keys: int, edit_keys: tuple[str, ...] = ()
) -> list[float]:
    """Start command in tmux, then time ' a' pairs: 'a' to the pane showing a new count."""
    import re
    import subprocess
    import tempfile

    lat: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wbk-") as tmp:
        base = ["tmux", "-S", f"{tmp}/s", "-f", "/dev/null"]
        subprocess.run(
            [
                *base,
                "new-session",
                "-d",
                "-s",
                "k",
                "-x",
                "80",
                "-y",
                "24",
                "-e",
                "HF_HUB_OFFLINE=1",
                command,
            ],
            check=True,
        )

        def count() -> int | None:
            pane = subprocess.run(
                [*base, "capture-pane", "-p", "-t", "k"], capture_output=True, text=True
            ).stdout
            m = re.search(r"minilm-wordpiece \((\d+)\)", pane)
            return int(m.group(1)) if m else None

        def send(*k: str) -> None:
            subprocess.run([*base, "send-keys", "-t", "k", *k], check=True)

        try:
            deadline = time.perf_counter() + 60
            for k in start_keys:
                send(k)
            while count() is None and time.perf_counter() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # let the screen settle, as a person reading it would
            for k in edit_keys:  # into the text box (the screen opens in command mode)
                send(k)
            time.sleep(0.3)
            send("End")
            for _ in range(keys):
                send("-l", " ")
                time.sleep(0.05)
                before = count()
                t0 = time.perf_counter()
                send("-l", "a")
                while count() == before and time.perf_counter() - t0 < 2:
                    time.sleep(0.002)
                lat.append(time.perf_counter() - t0)
                time.sleep(0.03)
        finally:
            subprocess.run([*base, "kill-server"], capture_output=True)
    return lat


def keystroke_latency(home: Home, keys: int = 40) -> list[dict[str, str]]:
    """Keystroke to repainted chips in a real terminal (tmux): the whole path a person sees.

    Peer: a minimal Textual app that redraws one label per keystroke, timed the same way;
    it is the floor of this method (tmux, polling the pane every ~2 ms).
    """
    import sys
    import tempfile

    from bench.common import ROOT

    app = f"cd {ROOT} && exec {sys.executable} -m workbench --home {home.root}"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(FLOOR_APP)
    ours: list[float] = []
    floor: list[float] = []
    for _ in range(2):  # alternate A and B
        ours += _type_and_time(app, ["2"], keys // 2, edit_keys=("/",))
        floor += _type_and_time(f"exec {sys.executable} {fh.name}", [], keys // 2)
    if os.environ.get("WB_BENCH_VERBOSE"):
        print("keystroke ms:", [round(v * 1e3, 1) for v in ours])
        print("floor ms:", [round(v * 1e3, 1) for v in floor])
    o50, o99, f50, f99 = (
        pct(v, q) * 1e3 for v, q in ((ours, 50), (ours, 99), (floor, 50), (floor, 99))
    )
    return [
        row(
            "keystroke to repainted chips in a real terminal (tmux), p50 / p99",
            f"{o50:.1f} / {o99:.1f} ms",
            "p99 < 50 ms",
            f"{f50:.1f} / {f99:.1f} ms minimal app, same method",
            f"{o50 / f50:.2f}x / {o99 / f99:.2f}x floor",
        ),
    ]


async def padding_costs(home: Home) -> list[dict[str, str]]:
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    out = []
    for name in ("rotten-tomatoes", "20-newsgroups", "reuters-r8"):
        st = await client.ask(
            P.TokenizerStats(
                tokenizer="minilm-wordpiece", dataset=name, batch_size=32, max_length=512
            ),
            timeout=600,
        )
        share = {p.strategy: p.padded_share for p in st.padding}
        bucketed = next(v for k, v in share.items() if "bucket" in k)
        shuffled = next(v for k, v in share.items() if "shuffled" in k)
        to_max = next(v for k, v in share.items() if "max" in k)
        out.append(
            row(
                f"padded share, {name}, batch 32, MiniLM, max 512 (max / shuffled / bucketed)",
                f"{100 * to_max:.1f}% / {100 * shuffled:.1f}% / {100 * bucketed:.2f}%",
                "bucketed < 3%",
                "HF group_by_length on 20NG: 2.3% (BASELINES.md)",
                f"{shuffled / max(bucketed, 1e-9):.0f}x less than shuffled",
            )
        )
    await client.close()
    return out
