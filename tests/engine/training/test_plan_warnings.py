"""The plan's warnings: values that work but are far from the usual ones (lr = 5 for AdamW, a
batch of a million, dropout 0.99, 10,000 epochs) are named on their field with a reason and the
usual range, never refused; settings that do not apply are said; the examples warn of nothing."""

from __future__ import annotations

import pytest

from engine import protocol as P
from engine.training.config import RunConfig
from engine.training.plan import PlanFacts, usual_warnings
from tests.helpers.engine import ROOT
from workbench.engine.client import EngineClient

BASE = """
[data]
dataset = "rotten-tomatoes"
max_length = 128
[model]
arch = "{arch}"
{model}
[train]
{train}
"""
FACTS = PlanFacts(train_rows=10_000, steps_per_epoch=313, test_rows=1_000)


def warned(
    train: str = "", model: str = "", arch: str = "cnn", facts: PlanFacts = FACTS
) -> dict[str, P.FieldProblem]:
    cfg = RunConfig.from_toml(BASE.format(arch=arch, model=model, train=train))
    found = usual_warnings(cfg, facts)
    fields = [w.field for w in found]
    assert len(fields) == len(set(fields)), fields  # one warning a field
    return {w.field: w for w in found}


def test_usual_values_warn_of_nothing() -> None:
    assert warned() == {}
    assert warned("lr = 1e-3\nbatch_size = 64\nepochs = 5", "dropout = 0.5") == {}
    assert warned('optimizer = "sgd"\nlr = 0.1\nmomentum = 0.9') == {}


@pytest.mark.parametrize(
    ("train", "model", "field", "words", "usual"),
    [
        ("lr = 5", "", "train.lr", "5 is above the usual range for AdamW", "1e-06 to 0.03"),
        ("lr = 1e-9", "", "train.lr", "below the usual range for AdamW", "1e-06 to 0.03"),
        (
            'optimizer = "sgd"\nlr = 5',
            "",
            "train.lr",
            "above the usual range for SGD",
            "0.0001 to 1",
        ),
        ("batch_size = 1000000", "", "train.batch_size", "1,000,000 is above", "1 to 4,096"),
        ("epochs = 10000", "", "train.epochs", "10,000 is above the usual range", "1 to 500"),
        ("warmup_ratio = 0.6", "", "train.warmup_ratio", "0.6 is above", "0 to 0.3"),
        ("grad_clip = 0.001", "", "train.grad_clip", "0.001 is below", "0.01 or more (0: off)"),
        ("weight_decay = 0.9", "", "train.weight_decay", "above the usual range for AdamW", ""),
        ("", "dropout = 0.99", "model.dropout", "0.99 is above the usual range", "0 to 0.7"),
        ("", "embed_dim = 100000", "model.embed_dim", "100,000 is above", "4 to 4,096"),
        ("", "kernel_sizes = [3, 40]", "model.kernel_sizes", "40 is above", "1 to 15"),
    ],
)
def test_far_values_are_warned_with_a_reason_and_the_usual_range(
    train: str, model: str, field: str, words: str, usual: str
) -> None:
    found = warned(train, model)
    assert list(found) == [field], found
    warning = found[field]
    assert words in warning.message and warning.hint  # the reason
    if usual:
        assert warning.usual == usual


def test_what_turns_a_setting_off_is_not_warned() -> None:
    assert warned("grad_clip = 0") == {}
    assert warned("", "hidden_size = 0\nembed_dim = 32", arch="embedding-bag") == {}


def test_the_run_as_a_whole_weighs_in() -> None:
    small = PlanFacts(train_rows=20, steps_per_epoch=1, test_rows=5)
    found = warned("batch_size = 64", facts=small)
    assert "more than the 20 training rows" in found["train.batch_size"].message
    assert found["train.batch_size"].usual == "1 to 20"
    found = warned("warmup_steps = 5000\nepochs = 2")  # 626 steps in all
    assert "more than the run's 626 steps" in found["train.warmup_steps"].message
    found = warned("epochs = 10000")
    assert "(3,130,000 steps)" in found["train.epochs"].message
    capped = warned("warmup_steps = 50\nmax_steps = 20")
    assert "20 steps" in capped["train.warmup_steps"].message
    # a fine-tuned pretrained model has its own, lower, usual rate
    tuned = PlanFacts(pretrained=True, train_rows=100, steps_per_epoch=4)
    found = warned("lr = 1e-2", arch="bert-finetune", facts=tuned)
    assert "for fine-tuning with AdamW" in found["train.lr"].message
    assert found["train.lr"].usual == "1e-06 to 0.0005"
    # a fitted model has no training settings to warn about
    assert warned("lr = 5", arch="features-logreg", facts=PlanFacts(trained_by="fit")) == {}


def test_settings_that_do_not_apply_are_said() -> None:
    found = warned("momentum = 0.5")  # AdamW, the default, does not read it
    assert "set but not used: momentum applies only when optimizer is sgd" in (
        found["train.momentum"].message
    )
    cfg = RunConfig.from_toml(
        BASE.format(arch="cnn", model="", train="early_stopping_patience = 2").replace(
            "max_length = 128", 'max_length = 128\nvalidation_split = ""'
        )
    )
    found = {w.field: w for w in usual_warnings(cfg, FACTS)}
    assert "applies only when data.validation_split is set" in (
        found["train.early_stopping_patience"].message
    )


def test_lengths_and_the_test_split() -> None:
    base = BASE.format(arch="transformer", model="max_len = 64", train="")
    cfg = RunConfig.from_toml(base)  # max_length 128, the model reads 64
    found = {w.field: w for w in usual_warnings(cfg, PlanFacts(model_max_len=64, test_rows=9))}
    assert "reads at most 64 tokens" in found["data.max_length"].message
    cut = RunConfig.from_toml(base.replace("max_length = 128", "max_length = 4"))
    found = {w.field: w for w in usual_warnings(cut, PlanFacts(test_rows=9))}
    assert "keeps only 4 tokens" in found["data.max_length"].message

    def test_split(line: str, facts: PlanFacts) -> str:
        text = base.replace("max_length = 128", "max_length = 32\n" + line)
        found = {w.field: w for w in usual_warnings(RunConfig.from_toml(text), facts)}
        return found["data.test_split"].message if "data.test_split" in found else ""

    named = PlanFacts(test_split_set=True)  # the file names its test split
    assert test_split("", PlanFacts()) == ""  # the default "test": used where it fits
    assert "has no split 'test'" in test_split('test_split = "test"', named)
    empty = PlanFacts(test_rows=0, test_split_set=True)
    assert "has no rows in 'test'" in test_split('test_split = "test"', empty)
    both = 'validation_split = "test"\ntest_split = "test"'
    assert "'test' is the validation split" in test_split(
        both, PlanFacts(test_rows=9, test_split_set=True)
    )
    assert test_split('test_split = ""', named) == ""  # none: nothing to score


def test_every_example_is_in_the_usual_ranges() -> None:
    for path in sorted((ROOT / "examples").glob("*.toml")):
        cfg = RunConfig.from_toml(path.read_text())
        facts = PlanFacts(
            pretrained=cfg.arch == "bert-finetune",
            trained_by="fit" if cfg.arch == "features-logreg" else "trainer",
            train_rows=10_000,
            steps_per_epoch=300,
            test_rows=1_000,
        )
        assert usual_warnings(cfg, facts) == [], path.name


CNN_EXAMPLE = (ROOT / "examples" / "cnn-rotten-tomatoes.toml").read_text()


async def test_the_engine_plan_warns_but_does_not_refuse(client: EngineClient) -> None:
    toml = CNN_EXAMPLE
    assert "lr = 2e-3" in toml
    wild = (
        toml.replace("lr = 2e-3", "lr = 5\nmomentum = 0.5")
        .replace("dropout = 0.5", "dropout = 0.99")
        .replace(
            'validation_split = "validation"',
            'validation_split = "validation"\ntest_split = "nope"',
        )
    )
    result = await client.ask(P.RunPlan(config_toml=wild))
    assert result.problems == [], result.problems  # a warning is not a problem
    assert result.layers and result.trainable > 0
    found = {w.field: w for w in result.warnings}
    assert set(found) == {"train.lr", "train.momentum", "model.dropout", "data.test_split"}
    assert found["train.lr"].usual == "1e-06 to 0.03"
    assert "has no split 'nope'" in found["data.test_split"].message
    # a field with a problem carries no warning too
    broken = await client.ask(
        P.RunPlan(config_toml=wild.replace("dropout = 0.99", "dropout = 2.0"))
    )
    assert "model.dropout" in {p.field for p in broken.problems}
    assert "model.dropout" not in {w.field for w in broken.warnings}
    # and a clean example has neither
    clean = await client.ask(P.RunPlan(config_toml=toml))
    assert clean.problems == [] and clean.warnings == []
