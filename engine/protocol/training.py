"""Training: runs started from a TOML configuration, their live state, whole history and
controls, and what the model builder asks first (the settings a form shows, a field-by-field
check of a configuration with the model it would build)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from engine.protocol.base import Base, Ok, Returns, StartsJob
from engine.protocol.embeddings import VectorSourceResult
from engine.protocol.system import DownloadReady

# --------------------------------------------------------------------- values

RunState = Literal["queued", "running", "paused", "finished", "failed", "stopped", "interrupted"]


class RunInfo(Base):
    run_id: str
    name: str
    arch: str
    dataset: str
    state: RunState
    created: float
    started: float = 0.0  # when it first started training
    ended: float = 0.0
    resumed: float = 0.0  # when it last started (resumes included)
    active: float = 0.0  # seconds spent training over all its sessions (wall time is ended-started)
    step: int = 0
    epoch: float = 0.0
    total_steps: int = 0
    metric: str = "accuracy"  # the metric that picks the best checkpoint
    best: float | None = None
    message: str = ""  # why it failed or stopped; guard notices
    device: str = ""
    job_id: str = ""
    trainable: int = 0
    frozen: int = 0
    summary: str = ""  # its key settings in a few words: "lr 0.01 · batch 64 · 3 ep · embed 64"
    test: dict[str, float] = {}  # the best checkpoint scored once on the test split
    test_step: int = 0  # the step of that checkpoint


class MetricPoint(Base, gc=False):
    """One value of one series at one step; every point is stored."""

    run_id: str
    series: str  # train_loss, val_loss, val_accuracy, val_macro_f1, lr, tokens_per_s, ...
    step: int
    epoch: float
    time: float
    value: float


class SettingSpec(Base):
    """One setting a form shows: its TOML key, what it takes, its default and choices."""

    name: str
    kind: Literal["int", "float", "bool", "str", "ints", "choice"]
    default: int | float | bool | str | list[int] | None = None
    choices: list[str] = []
    optional: bool = False  # may be left empty (no value in the TOML)
    help: str = ""
    # when it applies: each named setting must hold one of the values (a name alone is in the
    # same section; "data.validation_split" names another; "*" is any value that is set), e.g.
    # {"optimizer": ["sgd"]}. A setting that does not apply is not shown and not written.
    applies_when: dict[str, list[str]] = {}

    def applies(self, section: str, values: Mapping[str, Any]) -> bool:
        """Whether this setting of section ("model", "train") applies among values, keyed
        "section.name" (a bool is "true"/"false", an unset value "")."""
        for name, allowed in self.applies_when.items():
            value = values.get(name if "." in name else f"{section}.{name}")
            if value in (None, ""):
                text = ""
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            if text not in allowed and not ("*" in allowed and text):
                return False
        return True


# A run config's [data] table (what the builder writes and the engine reads), and how a text
# longer than max_length is read (engine.models.truncation)
RUN_DATA_KEYS = (
    "dataset",
    "tokenizer",
    "train_split",
    "validation_split",
    "test_split",
    "max_length",
    "truncation",
    "head_tokens",
    "stride",
    "pool",
)
TRUNCATIONS = ("head", "tail", "head+tail", "windows")
POOLS = ("mean", "max")


class ArchitectureInfo(Base):
    name: str
    task: Literal["classify", "lm", "seq2seq"]
    description: str
    settings: list[SettingSpec]
    trained_by: Literal["trainer", "fit"] = "trainer"
    pretrained_tokenizer: bool = False  # reads ids with its own model's tokenizer
    takes_vectors: bool = True  # static vectors may initialise its embedding layer


class LayerRow(Base, array_like=True):
    """One module of the layer tree: parents come before their children."""

    depth: int
    name: str  # dotted path; "" for the model itself
    kind: str  # the module's class
    trainable: int  # parameters, the module's descendants included
    frozen: int


class FieldProblem(Base):
    """Why one field of a run configuration cannot work (a problem), or why its value is
    probably not what was meant (a warning: the run may still start)."""

    field: str  # "data.dataset", "model.embed_dim", "train.lr"; "" for the whole file
    message: str
    hint: str = ""
    usual: str = ""  # a warning's usual range, in words: "1e-06 to 0.03"


class EvalReport(Base):
    step: int
    epoch: float
    metrics: dict[str, float]
    split: str = "validation"  # "test": the best checkpoint scored at the end of the run
    labels: list[str] = []
    confusion: list[list[int]] = []  # rows: true label, columns: predicted
    per_class: dict[str, dict[str, float]] = {}  # label -> precision, recall, f1, support


# --------------------------------------------------------------------- results


class RunResult(Base, tag="training.run"):
    run: RunInfo


class RunListResult(Base, tag="training.runs"):
    runs: list[RunInfo]


class RunHistory(Base, tag="training.history"):
    run: RunInfo
    series: dict[str, list[tuple[int, float]]]  # name -> (step, value)
    evals: list[EvalReport]
    config_toml: str
    times: list[tuple[int, float]] = []  # step -> wall time (unix) it was reached


class ExampleRow(Base):
    """One example of a split as the best checkpoint sees it."""

    index: int  # the row in the dataset
    text: str  # cut to the length asked for
    label: str  # the true label
    predicted: str
    probability: float  # of the predicted class
    true_probability: float  # of the true class


class RunExamplesResult(Base, tag="training.example_rows"):
    run_id: str
    split: str
    step: int  # the checkpoint that predicted them
    total: int  # examples with that true and predicted label
    examples: list[ExampleRow]


class Completeness(Base):
    """Integrated gradients' check: the attributions' sum against f(x) - f(baseline), where f is
    the explained class's logit; a small gap means enough steps."""

    attributions_sum: float
    f_input: float  # the explained class's logit for the text
    f_baseline: float  # and for the baseline (padding in place of every non-special token)
    gap: float  # attributions_sum - (f_input - f_baseline)
    relative_gap: float  # |gap| / |f_input - f_baseline|
    steps: int


class WordScore(Base):
    """A word's score: the sum of its tokens' scores (characters start..end of the text)."""

    start: int
    end: int
    score: float


class Explanation(Base):
    """Why a classifier said what it said, one score per token of its Prediction.

    ig and ixg: Captum's integrated gradients / input x gradient over the embedding layer's
    output, summed over the vector, for the explained class's logit. occlusion: Captum's
    feature ablation, each token left out of the text in turn: the explained class's probability
    with the text minus that probability without the token. attention: the attention weights the
    pooled position gives each token (the last layer, averaged over heads; the attention RNN has
    one layer and one head)."""

    method: str  # ig, ixg, occlusion or attention
    target: str  # the class explained
    scores: list[float]  # one per token of the prediction (0 for specials in occlusion)
    words: list[WordScore]  # the same, summed per word of the text
    completeness: Completeness | None = None  # ig only
    attention: list[list[float]] = []  # the last layer's matrix [query][key], rows sum to 1
    layers: list[list[float]] = []  # each layer's attention from the pooled position
    note: str = ""  # e.g. the gap is large: raise steps


class Prediction(Base):
    """One text as a trained classifier reads it."""

    label: str  # the most probable class
    probabilities: list[float]  # one per class, in the run's label order
    tokens: list[str]  # the tokens the model read, specials included, after any cut
    spans: list[tuple[int, int]]  # each token's characters in the text; (0, 0) for a special
    token_count: int  # tokens the whole text makes
    truncated: bool  # the text made more tokens than the model reads
    explanation: Explanation | None = None  # when asked for


class RunPredictResult(Base, tag="training.predicted"):
    run_id: str
    step: int  # the checkpoint that predicted
    checkpoint: str  # "best"; "latest" while the run trains (its last complete checkpoint);
    # "folder" for a model folder
    labels: list[str]
    max_length: int  # tokens the model reads of a text
    predictions: list[Prediction]


class BatchPredictResult(Base, tag="training.batch_predicted"):
    """A batch prediction written to a file; scored when the texts had labels."""

    run_id: str
    step: int  # the checkpoint that predicted
    rows: int
    out: str  # the file written (CSV or JSONL, on the engine's machine)
    labels: list[str]
    metrics: dict[str, float] = {}  # accuracy, macro_f1 of the labelled rows
    confusion: list[list[int]] = []  # rows: true label, columns: predicted
    per_class: dict[str, dict[str, float]] = {}  # label -> precision, recall, f1, support
    scored: int = 0  # labelled rows with a label the run knows
    unknown_labels: int = 0  # labelled rows whose label the run was not trained on
    mistakes: list[ExampleRow] = []  # the surest mistakes first, at most 100


class Disagreement(Base):
    """A text two runs label differently."""

    index: int  # its row in the dataset
    text: str  # cut to 400 characters
    label: str | None  # its true label, when the dataset has one
    a_label: str
    a_probability: float
    b_label: str
    b_probability: float


class DisagreeResult(Base, tag="training.disagreed"):
    """Where two runs disagree over a split: the surest disagreements first (by the larger of
    the two probabilities), at most 100."""

    run_a: str
    run_b: str
    dataset: str
    split: str
    rows: int
    agreed: int  # rows both label the same
    a_accuracy: float | None = None  # on the labelled rows, when there are any
    b_accuracy: float | None = None
    disagreements: list[Disagreement] = []


class RunSchemaResult(Base, tag="training.settings"):
    architectures: list[ArchitectureInfo]
    train: list[SettingSpec]
    device: str  # where runs train: cuda, mps or cpu
    precisions: list[str]  # the ones this device can train in


class RunPlanResult(Base, tag="training.planned"):
    """What a configuration would build: problems per field, or the model and its costs."""

    problems: list[FieldProblem] = []
    warnings: list[FieldProblem] = []  # values far from the usual ones: starting is allowed
    layers: list[LayerRow] = []
    trainable: int = 0
    frozen: int = 0
    memory: dict[str, int] = {}  # bytes by kind for one training step
    batch_size: int = 0  # the batch and sequence length the memory is estimated for
    seq_len: int = 0
    vocab_size: int = 0
    num_classes: int = 0
    train_rows: int = 0
    steps_per_epoch: int = 0
    device: str = ""
    task: str = ""


# --------------------------------------------------------------------- calls


class RunStart(Returns[RunResult], tag="training.start"):
    """Start a training run from a TOML configuration (the same file the CLI takes)."""

    config_toml: str
    name: str | None = None


class RunList(Returns[RunListResult], tag="training.list"):
    pass


class RunShow(Returns[RunHistory], tag="training.show"):
    """A run's whole history (reattaching shows everything at once)."""

    run_id: str
    max_points: int = 0  # per series; 0: every point, else evenly thinned to this many


class RunControl(Returns[RunResult], tag="training.control"):
    run_id: str
    action: Literal["pause", "resume", "stop", "checkpoint", "set_lr"]
    lr: float | None = None


class RunResume(Returns[RunResult], tag="training.resume"):
    """Continue an interrupted or stopped run from its last checkpoint; devices (when
    given) trains this part on that many devices instead of the run's own setting."""

    run_id: str
    devices: int | None = None


class RunExport(Returns[Ok], tag="training.export"):
    run_id: str
    path: str  # the folder to write, an absolute path on the engine's machine


class RunExportStaged(Returns[DownloadReady], tag="training.export_staged"):
    """Export a run as training.export does, into a private folder under the engine's data dir,
    for a client on another machine to fetch with system.download (then release)."""

    run_id: str


class VectorFromRun(Returns[VectorSourceResult], tag="training.to_vectors"):
    """Make a trained run's embedding layer (its best checkpoint) a static vector source."""

    run_id: str
    name: str


class RunRename(Returns[RunResult], tag="training.rename"):
    run_id: str
    name: str


class RunDelete(Returns[Ok], tag="training.delete"):
    """Delete a run that is not training: its folder, checkpoints and every metric point."""

    run_id: str


class RunExamples(Returns[RunExamplesResult], tag="training.examples"):
    """The examples of a split with a given true and predicted label (a confusion cell), as
    the run's best checkpoint predicts them; None: any label."""

    run_id: str
    split: str = "validation"
    label: str | None = None
    predicted: str | None = None
    limit: int = 50
    max_chars: int = 400


class RunPredict(Returns[RunPredictResult], tag="training.predict"):
    """Classify texts with a run's trained model: its best checkpoint, or while it trains its
    latest complete one (never a model being updated). run_id may instead be the absolute path
    (on the engine's machine) of a model folder: a Hugging Face sequence-classification folder
    with a tokenizer.json (what `runs export` writes for BERT-family runs), or what `runs
    export` writes for the other families. The same holds for RunPredictBatch and RunDisagree."""

    run_id: str
    texts: list[str]
    explain: str = ""  # "", ig, ixg, occlusion, attention
    target: str = ""  # the class to explain; "": the predicted one
    steps: int = 0  # integrated gradients' steps; 0: the default (300, trapezoid rule)


class RunPredictBatch(StartsJob[BatchPredictResult], tag="training.predict_batch"):
    """Classify every text of a file (CSV, TSV, JSONL, Parquet) or of a dataset's split with a
    run, as a job, into a CSV or JSONL file (out: an absolute path on the engine's machine);
    scored when label_column (a file's) or the dataset gives labels."""

    run_id: str
    out: str
    source: str = ""  # a file (an absolute path on the engine's machine), or
    dataset: str = ""  # a dataset, with its split
    split: str = "test"
    text_column: str = "text"
    label_column: str | None = None
    format: str | None = None


class RunDisagree(StartsJob[DisagreeResult], tag="training.disagree"):
    """Both runs predict every text of a dataset's split (dataset "": run_a's own), as a job,
    and the texts they label differently come back. The runs must have the same classes."""

    run_a: str
    run_b: str
    dataset: str = ""
    split: str = "test"


class RunSchema(Returns[RunSchemaResult], tag="training.schema"):
    """Every architecture's settings and the training settings, for a form to show."""


class RunPlan(Returns[RunPlanResult], tag="training.plan"):
    """Check a run configuration field by field and describe the model it would build."""

    config_toml: str


# --------------------------------------------------------------------- events


class RunMetrics(Base, tag="training.metrics"):
    points: list[MetricPoint]


class RunUpdate(Base, tag="training.update"):
    run: RunInfo


class RunEval(Base, tag="training.eval"):
    run_id: str
    report: EvalReport
