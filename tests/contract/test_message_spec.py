"""Every call of the protocol, sent to a real engine as a client would send it: the reply is the
result the call declares (or a typed error a person can act on, never `internal`), and a job's
end carries the result its call declares. One reference call per type, as ipykernel's message
spec test does; a new call without a reference here fails the coverage check. Every registry
change along the way is announced with one CatalogChanged."""

from __future__ import annotations

import asyncio
import typing
from pathlib import Path

import pytest

from engine import protocol as P
from engine.core.assets import minilm_folder
from workbench.engine.client import EngineClient, EngineError

TINY_RUN = """
name = "spec-run"
[data]
dataset = "spec-data"
tokenizer = "spec-char"
validation_split = "validation"
max_length = 32
[model]
arch = "embedding-bag"
embed_dim = 8
[train]
epochs = 1
batch_size = 8
max_steps = 4
eval_every = 2
checkpoint_every = 2
metric = "accuracy"
"""


class Spec:
    """Sends calls and checks each reply against its declaration; remembers what was sent."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client
        self.sent: set[type] = set()
        self.ended: dict[str, P.JobEnded] = {}
        self.changes: list[tuple[str, str, str]] = []
        client.subscribe(self._events)

    def _events(self, events: list[P.Event], _dropped: int) -> None:
        for ev in events:
            if isinstance(ev, P.JobEnded):
                self.ended[ev.job.job_id] = ev
            elif isinstance(ev, P.CatalogChanged):
                self.changes.append((ev.kind, ev.name, ev.change))

    async def reply(self, call: P.Returns[typing.Any]) -> P.Result | P.ErrorInfo:
        """The declared result, or the typed error (never internal)."""
        self.sent.add(type(call))
        try:
            result = await self.client.ask(call, timeout=300)
        except EngineError as exc:
            assert exc.code != "internal", f"{type(call).__name__}: {exc}"
            return P.error(exc.code, exc.message, exc.hint)
        assert isinstance(result, P.result_type(type(call)))
        return result

    async def ok(self, call: P.Returns[typing.Any]) -> typing.Any:
        """The declared result; an error fails the test."""
        got = await self.reply(call)
        assert not isinstance(got, P.ErrorInfo), f"{type(call).__name__}: {got.message}"
        return got

    async def job(self, call: P.StartsJob[typing.Any]) -> typing.Any:
        """The job's end result, of the type the call declares."""
        started = await self.ok(call)
        for _ in range(3000):
            if started.job_id in self.ended:
                break
            await asyncio.sleep(0.05)
        end = self.ended[started.job_id]
        assert end.error is None, f"{type(call).__name__}: {end.error}"
        expected = P.job_result_type(type(call))
        assert expected is not None and isinstance(end.result, expected)
        return end.result


@pytest.fixture
def spec(client: EngineClient) -> Spec:
    """A real engine (conftest's), as a client sees it."""
    return Spec(client)


def _files(tmp: Path) -> tuple[Path, Path]:
    words = ["good", "bad", "film", "plot", "fun", "dull", "great", "awful", "actor", "scene"]
    csv = tmp / "spec.csv"
    csv.write_text(
        "text,label\n"
        + "".join(f"{words[i % 10]} {words[(i * 3) % 10]} film,{'ab'[i % 2]}\n" for i in range(80)),
        encoding="utf-8",
    )
    vectors = tmp / "spec.vec"
    vectors.write_text(
        "".join(
            f"{w} {' '.join(str((i * 7 + j) % 5 - 2) for j in range(4))}\n"
            for i, w in enumerate(words)
        ),
        encoding="utf-8",
    )
    return csv, vectors


async def test_every_call_gets_its_declared_result(spec: Spec, tmp_path: Path) -> None:
    csv, vectors = _files(tmp_path)
    minilm = minilm_folder()
    assert minilm is not None

    # system and jobs
    assert (await spec.ok(P.Ping(payload=b"x"))).payload == b"x"
    await spec.ok(P.Status())
    await spec.ok(P.Jobs())
    assert (await spec.ok(P.EngineLog(lines=5))).size > 0
    assert (await spec.ok(P.Doctor())).picked in ("cpu", "cuda", "mps")
    sent = await spec.ok(P.FileUpload(name="a.txt", total=2, data=b"hi", final=True))
    assert sent.received == 2 and sent.path.endswith("a.txt")
    assert isinstance(await spec.reply(P.Cancel(job_id="j-none")), P.ErrorInfo)
    await spec.job(P.StreamEvents(rate=200, seconds=0.05))

    # datasets
    await spec.ok(P.DatasetList())
    await spec.ok(P.DatasetShow(name="reuters-r8"))
    await spec.ok(P.DatasetOpen(name="reuters-r8"))
    await spec.ok(P.DatasetPreview(source=str(csv)))
    imported = await spec.job(
        P.DatasetImport(source=str(csv), name="spec-data", text_column="text", label_column="label")
    )
    assert imported.dataset.rows == 80
    await spec.ok(P.DatasetOpen(name="spec-data"))
    await spec.ok(P.DatasetSplit(name="spec-data", seed=1))
    await spec.ok(P.DatasetRows(name="spec-data", limit=5))
    await spec.ok(P.DatasetRow(name="spec-data", index=0))
    await spec.ok(P.DatasetStats(name="spec-data"))
    await spec.ok(P.DatasetReport(name="spec-data"))
    refused = await spec.reply(P.DatasetSplit(name="reuters-r8"))  # a built-in keeps its own
    assert isinstance(refused, P.ErrorInfo) and "--into" in refused.hint
    await spec.ok(P.DatasetSplit(name="reuters-r8", into="spec-r8", seed=2))
    await spec.ok(P.DatasetRename(name="spec-r8", new_name="spec-r8b"))
    await spec.ok(P.DatasetDelete(name="spec-r8b"))

    # tokenizers
    await spec.ok(P.TokenizerList())
    await spec.ok(P.TokenizerShow(name="minilm-wordpiece"))
    await spec.job(P.TokenizerTrain(name="spec-char", kind="char", dataset="spec-data"))
    await spec.ok(P.TokenizerAdd(name="spec-file", path=str(minilm / "tokenizer.json")))
    await spec.ok(P.Tokenize(tokenizer="spec-char", texts=["good film"]))
    await spec.ok(P.TokenizerStats(tokenizer="spec-char", dataset="spec-data"))
    await spec.ok(P.Encode(dataset="spec-data", text="good plot"))
    await spec.ok(P.TokenizerDelete(name="spec-file"))

    # embeddings
    await spec.ok(P.VectorSources())
    await spec.job(P.VectorAdd(name="spec-vec", path=str(vectors)))
    await spec.ok(P.Neighbours(query="good - bad + fun", source="spec-vec", k=3))
    await spec.ok(P.NeighboursBatch(words=["good", "nope"], source="spec-vec", k=2))
    await spec.ok(P.ContextSimilarity(word="bat", sentences=["a bat flew", "swing the bat"]))
    await spec.ok(P.SentenceSimilarity(sentences=["a good film", "a fine movie"]))
    await spec.job(P.Project(words=["good", "bad", "film", "plot"], source="spec-vec"))

    # training
    await spec.ok(P.RunSchema())
    plan = await spec.ok(P.RunPlan(config_toml=TINY_RUN))
    assert plan.problems == [], plan.problems
    run = (await spec.ok(P.RunStart(config_toml=TINY_RUN))).run
    for _ in range(1200):
        state = (await spec.ok(P.RunShow(run_id=run.run_id, max_points=1))).run.state
        if state not in ("queued", "running"):
            break
        await asyncio.sleep(0.1)
    assert state == "finished"
    await spec.ok(P.RunList())
    assert isinstance(
        await spec.reply(P.RunControl(run_id=run.run_id, action="pause")), P.ErrorInfo
    )
    await spec.ok(P.RunExport(run_id=run.run_id, path=str(tmp_path / "exported")))
    staged = await spec.ok(P.RunExportStaged(run_id=run.run_id))
    first = staged.files[0]
    got = await spec.ok(P.FileDownload(download_id=staged.download_id, name=first.name))
    assert got.size == first.size and len(got.data) == min(first.size, P.DOWNLOAD_CHUNK)
    await spec.ok(P.FileDownload(download_id=staged.download_id, release=True))
    await spec.ok(P.VectorFromRun(run_id=run.run_id, name="spec-run-vec"))
    said = await spec.ok(P.RunPredict(run_id=run.run_id, texts=["a good film", "bad"]))
    assert len(said.predictions) == 2 and said.step > 0
    batch = await spec.job(
        P.RunPredictBatch(
            run_id=run.run_id, out=str(tmp_path / "spec-preds.csv"), dataset="spec-data", split=""
        )
    )
    assert batch.rows > 0 and (tmp_path / "spec-preds.csv").is_file()
    explained = await spec.ok(P.RunPredict(run_id=run.run_id, texts=["good"], explain="ixg"))
    assert explained.predictions[0].explanation is not None
    # two runs over a split: the second, the run exported as a folder
    folder = str(tmp_path / "exported")
    same = await spec.job(P.RunDisagree(run_a=run.run_id, run_b=folder, dataset="spec-data"))
    assert same.agreed == same.rows and same.disagreements == []
    # attack: the recipes, an attack on two texts, one on the folder over the split
    listed = await spec.ok(P.AttackRecipes())
    assert {r.name for r in listed.recipes} >= {"pgd", "charedit"}
    hit = await spec.job(P.AttackRun(run_id=run.run_id, recipe="charedit", texts=["a good film"]))
    assert hit.summary.examples == 1 and hit.examples[0].original_text == "a good film"
    swept = await spec.job(P.AttackRun(run_id=folder, recipe="pgd", dataset="spec-data", n=3))
    assert swept.summary.examples == 3 and swept.summary.norm == "inf"
    cell = await spec.ok(P.RunExamples(run_id=run.run_id, split="validation", limit=3))
    assert len(cell.examples) == min(3, cell.total) and cell.step > 0
    # lm: a classifier is refused; a tiny character LSTM generates and scores
    assert isinstance(await spec.reply(P.ScoreText(model=run.run_id, text="good")), P.ErrorInfo)
    lm_config = TINY_RUN.replace('"embedding-bag"', '"lstm-lm"').replace("spec-run", "spec-lm")
    lm = (await spec.ok(P.RunStart(config_toml=lm_config.replace('"accuracy"', '"loss"')))).run
    for _ in range(1200):
        if (await spec.ok(P.RunShow(run_id=lm.run_id, max_points=1))).run.state == "finished":
            break
        await asyncio.sleep(0.1)
    made = await spec.job(P.Generate(model=lm.run_id, prompt="good", max_new_tokens=3, seed=1))
    assert len(made.tokens) == 3
    assert (await spec.ok(P.ScoreText(model=lm.run_id, text="good film"))).scored > 0
    # seq2seq: a generated task; a classifier is refused a translation
    pairs = await spec.job(P.DatasetGenerate(task="number-words", name="spec-pairs", size=40))
    assert pairs.dataset.target_column == "target"
    assert isinstance(await spec.reply(P.Translate(model=run.run_id, source="one")), P.ErrorInfo)
    await spec.ok(P.RunRename(run_id=run.run_id, name="spec-renamed"))
    await spec.ok(P.RunDelete(run_id=run.run_id))
    await spec.reply(P.RunResume(run_id=run.run_id))  # a deleted run: a typed not_found
    await spec.ok(P.VectorDelete(name="spec-vec"))
    await spec.ok(P.DatasetDelete(name="spec-data"))

    for _ in range(100):  # the last changes travel in the next event batch
        if ("datasets", "spec-data", "deleted") in spec.changes:
            break
        await asyncio.sleep(0.05)
    expected = [
        ("datasets", "reuters-r8", "updated"),  # a built-in built on first use
        ("datasets", "spec-data", "added"),
        ("datasets", "spec-data", "updated"),  # re-split
        ("datasets", "spec-r8", "added"),  # a built-in split into a new dataset
        ("datasets", "spec-r8", "deleted"),  # renamed: the old name goes, the new one comes
        ("datasets", "spec-r8b", "added"),
        ("datasets", "spec-r8b", "deleted"),
        ("tokenizers", "spec-char", "added"),
        ("tokenizers", "spec-file", "added"),
        ("tokenizers", "spec-file", "deleted"),
        ("vectors", "spec-vec", "added"),
        ("runs", run.run_id, "added"),
        ("models", run.run_id, "updated"),  # a trained model: it has checkpoints
        ("vectors", "spec-run-vec", "added"),
        ("runs", run.run_id, "updated"),  # renamed
        ("runs", run.run_id, "deleted"),
        ("models", run.run_id, "deleted"),
        ("vectors", "spec-vec", "deleted"),
        ("datasets", "spec-data", "deleted"),
    ]
    seen = [c for c in spec.changes if c in expected]
    assert sorted(set(seen), key=seen.index) == expected, spec.changes

    await spec.ok(P.Shutdown())
    missing = [c.__name__ for c in typing.get_args(P.Call) if c not in spec.sent]
    assert missing == [], f"calls with no reference in the spec test: {missing}"
