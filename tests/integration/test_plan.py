"""The model builder's engine calls: the settings schema, and a run configuration checked field by
field with the model it would build, through a real engine."""

from __future__ import annotations

from pathlib import Path

from engine import protocol as P
from tests.helpers.engine import ROOT
from workbench.cli.common import run_job
from workbench.engine.client import EngineClient

EXAMPLES = ROOT / "examples"


async def plan(client: EngineClient, toml: str) -> P.RunPlanResult:
    return await client.ask(P.RunPlan(config_toml=toml))


def example(name: str) -> str:
    return (EXAMPLES / f"{name}.toml").read_text()


def fields(result: P.RunPlanResult) -> dict[str, str]:
    return {p.field: p.message for p in result.problems}


async def test_schema_lists_every_architecture_with_typed_settings(client: EngineClient) -> None:
    schema = await client.ask(P.RunSchema())
    archs = {a.name: a for a in schema.architectures}
    assert len(archs) == 14 and archs["lstm-lm"].task == "lm" and archs["seq2seq"].task == "seq2seq"
    cnn = {s.name: s for s in archs["cnn"].settings}
    assert cnn["kernel_sizes"].kind == "ints" and cnn["kernel_sizes"].default == [3, 4, 5]
    assert cnn["dropout"].kind == "float" and cnn["embed_dim"].kind == "int"
    rnn = {s.name: s for s in archs["attention-rnn"].settings}
    assert rnn["cell"].kind == "choice" and rnn["cell"].choices == ["rnn", "lstm", "gru"]
    assert "cell" not in {s.name for s in archs["lstm"].settings}  # pinned by the name
    assert archs["bert-finetune"].pretrained_tokenizer and not archs["bert-finetune"].takes_vectors
    assert archs["decoder-finetune"].pretrained_tokenizer
    train = {s.name: s for s in schema.train}
    assert train["optimizer"].choices == ["adamw", "sgd"]
    assert train["max_steps"].optional and train["lr"].help
    assert schema.device == "cpu" and "fp16" not in schema.precisions  # fp16 needs CUDA


async def test_plan_describes_the_model_and_its_memory(client: EngineClient) -> None:
    toml = example("cnn-rotten-tomatoes")
    result = await plan(client, toml)
    assert result.problems == []
    assert result.num_classes == 2 and result.vocab_size == 30522 and result.task == "classify"
    root = result.layers[0]
    assert (root.depth, root.name, root.kind) == (0, "", "TextCNN")
    assert root.trainable == result.trainable > 0 and result.frozen == 0
    embedding = next(r for r in result.layers if r.name == "embedding")
    assert embedding.trainable == 30522 * 64
    assert set(result.memory) == {"weights", "gradients", "optimizer", "activations"}
    assert result.batch_size == 64 and result.seq_len == 128
    assert result.train_rows > 10_000 and result.steps_per_epoch == -(-result.train_rows // 64)
    bigger = await plan(client, toml.replace("batch_size = 64", "batch_size = 256"))
    assert bigger.memory["activations"] == 4 * result.memory["activations"]
    assert bigger.memory["weights"] == result.memory["weights"]


async def test_each_problem_is_blamed_on_its_field(client: EngineClient) -> None:
    toml = example("transformer-20-newsgroups")  # d_model 96
    result = await plan(client, toml.replace("num_heads = 4", "num_heads = 5"))
    assert fields(result) == {"model.num_heads": result.problems[0].message}
    assert "d_model (96)" in result.problems[0].message  # judged beside the file's d_model
    ok = await plan(client, toml.replace("num_heads = 4", "num_heads = 3"))  # 96 % 3 == 0
    assert ok.problems == []
    many = await plan(
        client,
        toml.replace("ff_size = 192", "ff_sizes = 192")
        .replace("lr = 1e-3", "lr = -1")
        .replace('dataset = "20-newsgroups"', 'dataset = "nope"'),
    )
    assert set(fields(many)) == {"model.ff_sizes", "train.lr", "data.dataset"}
    assert "valid parameters are" in next(
        p.hint for p in many.problems if p.field == "model.ff_sizes"
    )
    cpu16 = await plan(client, toml.replace('metric = "macro_f1"', 'precision = "fp16"'))
    assert "fp16 needs a CUDA GPU" in fields(cpu16)["train.precision"]
    lm_metric = await plan(client, example("lstm-lm-rotten-tomatoes") + "\n")
    assert lm_metric.problems == [] and lm_metric.task == "lm" and lm_metric.num_classes == 0
    broken = await plan(client, "[data\nx=1")
    assert [p.field for p in broken.problems] == [""] and "TOML" in broken.problems[0].message


async def test_empty_split_and_wrong_tokenizer_are_refused(client: EngineClient) -> None:
    toml = example("gru-reuters-r8")  # reuters has train and test only
    result = await plan(
        client, toml.replace('validation_split = "test"', 'validation_split = "validation"')
    )
    assert "no rows in split 'validation'" in fields(result)["data.validation_split"]
    await run_job(
        client,
        P.TokenizerTrain(name="chars", kind="char", dataset="reuters-r8"),
        show=False,
        title="",
    )
    bert = example("bert-finetune-rotten-tomatoes")
    wrong = await plan(
        client, bert.replace('tokenizer = "minilm-wordpiece"', 'tokenizer = "chars"')
    )
    assert "own tokenizer" in fields(wrong).get("data.tokenizer", ""), wrong.problems


async def test_frozen_layers_show_in_the_counts(client: EngineClient, tmp_path: Path) -> None:
    bert = example("bert-finetune-rotten-tomatoes")
    base = bert.split("[model]")[0] + '[model]\narch = "bert-finetune"\n'
    everything = await plan(client, base + "trainable_layers = -1\n")
    head_only = await plan(client, base + "trainable_layers = 0\nfreeze_embeddings = true\n")
    assert everything.problems == [] and head_only.problems == []
    total = everything.trainable + everything.frozen
    assert head_only.trainable + head_only.frozen == total
    assert everything.frozen == 0 and head_only.trainable < everything.trainable / 50
    assert head_only.memory["optimizer"] < everything.memory["optimizer"]
    layer0 = next(r for r in head_only.layers if r.name.endswith("encoder.layer.0"))
    assert layer0.trainable == 0 and layer0.frozen > 0


async def test_every_example_plans_clean(client: EngineClient) -> None:
    # the seq2seq example reads a generated task, made as its comment says
    await run_job(client, P.DatasetGenerate(task="dates", size=200), show=False, title="")
    for path in sorted(EXAMPLES.glob("*.toml")):
        result = await plan(client, path.read_text())
        assert result.problems == [], (path.name, result.problems)
        assert result.layers and result.trainable > 0, path.name
