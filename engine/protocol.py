"""The wire contract between the workbench front (app, CLI) and the engine.

Every message is a msgspec Struct in a tagged union. On the wire a frame is a
4-byte big-endian length followed by a msgpack body. This module is the one
source of truth for messages; it must never import torch (a test checks).

Conversation:
    client -> Hello                     engine -> Welcome (or Goodbye)
    client -> Request(id, call)         engine -> Reply(id, result | error), exactly one
    engine -> EventBatch(events)        at any time after Welcome, batched
Long work is a job: its request replies JobStarted(job_id) at once; progress
and the end state arrive later as JobProgress / JobEnded events.
"""

from __future__ import annotations

import struct
from typing import Any, Literal

import msgspec

PROTOCOL_VERSION = 1
MAX_FRAME = 64 * 1024 * 1024  # a frame over this is garbage, not data
_HEADER = struct.Struct(">I")


class Base(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Common base: unknown fields are ignored so minor additions stay compatible."""


# --------------------------------------------------------------------- shared values


class ErrorInfo(Base):
    """An error a person can act on: what went wrong and what to do about it."""

    code: str  # machine-readable: not_found, bad_input, exists, cancelled, internal, ...
    message: str
    hint: str = ""


class DeviceInfo(Base):
    name: str
    kind: Literal["cuda", "mps", "cpu", "unknown"]
    memory_used: int = 0  # bytes; for cpu: system RAM in use
    memory_total: int = 0
    utilisation: float | None = None  # percent, where NVML (or /proc/stat) says
    detail: str = ""


JobState = Literal["queued", "running", "done", "failed", "cancelled"]


class JobInfo(Base):
    job_id: str
    kind: str
    title: str
    state: JobState
    done: float = 0.0
    total: float = 0.0
    message: str = ""
    started: float = 0.0  # unix time


class DatasetInfo(Base):
    name: str
    source: str  # "builtin", a path, or a hub name
    rows: int
    classes: int
    labels: dict[str, int] = {}
    splits: dict[str, int] = {}
    columns: list[str] = []
    text_column: str = "text"
    label_column: str = ""
    created: float = 0.0
    available: bool = True  # False: a built-in whose asset package is missing
    hint: str = ""  # how to make it available
    description: str = ""


class Row(Base):
    index: int  # position in the stored dataset
    text: str  # may be cut short in pages; see text_len
    label: str | None
    split: str
    text_len: int
    extra: dict[str, str] = {}


class LabelSplitCounts(Base):
    split: str
    rows: int
    labels: dict[str, int]


class HistogramInfo(Base):
    edges: list[float]
    counts: list[int]
    unit: str  # "words" or "characters"
    mean: float = 0.0
    median: float = 0.0
    max: float = 0.0


class DuplicateGroup(Base):
    text: str
    count: int
    splits: list[str]
    indices: list[int]


class PreviewInfo(Base):
    source: str
    format: str
    columns: list[str]
    rows: list[dict[str, str]]
    text_column: str
    label_column: str  # "" when none guessed
    size_bytes: int = 0
    classes: dict[str, int] = {}  # label counts in the previewed rows


TokenizerKind = Literal[
    "word", "regex-word", "char", "bpe", "wordpiece", "unigram", "pretrained", "file"
]
PostTemplate = Literal["none", "cls-sep", "start-end"]


class TokenizerInfo(Base):
    name: str
    kind: str  # one of TokenizerKind
    vocab_size: int
    specials: list[str] = []
    source: str = ""  # "builtin", "dataset/split" it was trained on, or a path
    lowercase: bool = False
    template: str = "none"  # what encode adds around a text: none, cls-sep, start-end
    created: float = 0.0
    available: bool = True  # False: a bundled tokenizer whose package is missing
    hint: str = ""
    description: str = ""


class TokenView(Base, gc=False):
    """One text as a model sees it: tokens, ids, where each came from, masks."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]  # character span in the text; (0, 0) for added tokens
    attention_mask: list[int]
    type_ids: list[int]
    special: list[bool]
    unknown: list[bool]
    n_tokens: int  # all tokens of the encoding (may exceed the ones shown)
    truncated: bool = False  # truncation dropped tokens
    overflow: int = 0  # how many tokens truncation dropped
    clipped_chars: int = 0  # characters past the engine's per-text limit, not encoded


class TokenCount(Base):
    token: str
    id: int
    count: int


class PaddingCost(Base):
    strategy: str  # "pad to max length", "per batch, shuffled", "per batch, bucketed"
    padded_share: float  # padded positions / all computed positions
    real_tokens: int
    computed_tokens: int


class TermValue(Base):
    term: str
    index: int
    value: float


class VectorSourceInfo(Base):
    name: str
    kind: str  # "static" (a word -> vector table) or "contextual" (a model over sentences)
    dim: int
    vocab_size: int  # 0 for contextual sources
    source: str = ""  # "builtin", a path, or the model it came from
    available: bool = True
    hint: str = ""
    description: str = ""


class Neighbour(Base):
    word: str
    score: float  # cosine similarity


class ExpressionTerm(Base):
    word: str
    sign: int  # +1 or -1
    known: bool


class ProjectedPoint(Base):
    word: str
    group: str
    x: float
    y: float


RunState = Literal["queued", "running", "paused", "finished", "failed", "stopped", "interrupted"]


class RunInfo(Base):
    run_id: str
    name: str
    arch: str
    dataset: str
    state: RunState
    created: float
    started: float = 0.0
    ended: float = 0.0
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


class ArchitectureInfo(Base):
    name: str
    task: Literal["classify", "lm"]
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
    """Why one field of a run configuration cannot work."""

    field: str  # "data.dataset", "model.embed_dim", "train.lr"; "" for the whole file
    message: str
    hint: str = ""


class EvalReport(Base):
    step: int
    epoch: float
    metrics: dict[str, float]
    labels: list[str] = []
    confusion: list[list[int]] = []  # rows: true label, columns: predicted
    per_class: dict[str, dict[str, float]] = {}  # label -> precision, recall, f1, support


# --------------------------------------------------------------------- calls


class Ping(Base, tag="ping"):
    payload: bytes = b""


class Status(Base, tag="status"):
    pass


class Shutdown(Base, tag="shutdown"):
    pass


class Cancel(Base, tag="cancel"):
    job_id: str


class Jobs(Base, tag="jobs"):
    pass


class StreamEvents(Base, tag="stream_events"):
    """Diagnostics: a job that emits `rate` log events a second for `seconds`."""

    rate: int = 1000
    seconds: float = 1.0
    batch: bool = True  # False: report each event as a separate progress point


class DatasetList(Base, tag="datasets.list"):
    pass


class DatasetShow(Base, tag="datasets.show"):
    name: str


class DatasetOpen(Base, tag="datasets.open"):
    """Load a dataset (building a built-in on first use); replies DatasetInfo."""

    name: str


class DatasetRows(Base, tag="datasets.rows"):
    name: str
    offset: int = 0
    limit: int = 100
    search: str = ""
    regex: bool = False
    label: str | None = None
    split: str | None = None
    max_chars: int = 300  # cut each text to this in the page; 0: whole text


class DatasetRow(Base, tag="datasets.row"):
    name: str
    index: int


class DatasetStats(Base, tag="datasets.stats"):
    name: str
    split: str | None = None
    bins: int = 30


class DatasetPreview(Base, tag="datasets.preview"):
    source: str
    format: str | None = None  # csv, tsv, jsonl, parquet, hf-disk, hub; None: guess
    rows: int = 10


class DatasetImport(Base, tag="datasets.import"):
    source: str
    name: str
    text_column: str
    label_column: str | None = None
    format: str | None = None
    split_column: str | None = None  # an existing column holding train/validation/test


class DatasetSplit(Base, tag="datasets.split"):
    name: str
    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    seed: int = 13
    stratify: bool = True
    group_column: str | None = None


class DatasetReport(Base, tag="datasets.report"):
    name: str
    limit: int = 20


class DatasetDelete(Base, tag="datasets.delete"):
    name: str


class TokenizerList(Base, tag="tokenizers.list"):
    pass


class TokenizerShow(Base, tag="tokenizers.show"):
    name: str


class TokenizerTrain(Base, tag="tokenizers.train"):
    """Build a tokenizer from a dataset's texts (a job: replies JobStarted)."""

    name: str
    kind: Literal["word", "regex-word", "char", "bpe", "wordpiece", "unigram"]
    dataset: str
    split: str | None = "train"  # None: every row
    vocab_size: int = 30000  # the maximum size for word and char vocabularies
    min_frequency: int = 1
    specials: list[str] = msgspec.field(default_factory=lambda: ["<PAD>", "<UNK>"])  # id order
    lowercase: bool = True
    template: PostTemplate = "none"


class TokenizerAdd(Base, tag="tokenizers.add"):
    """Register a tokenizer.json, or a Hugging Face tokenizer folder, under a name."""

    name: str
    path: str


class TokenizerDelete(Base, tag="tokenizers.delete"):
    name: str


class Tokenize(Base, tag="tokenize"):
    tokenizer: str
    texts: list[str]
    add_special_tokens: bool = True
    padding: Literal["none", "longest", "max_length"] = "none"
    truncation: bool = False
    max_length: int = 128
    padding_side: Literal["right", "left"] = "right"
    max_tokens: int = 4096  # tokens returned per text; a 1 MB paste shows its first part
    detail: bool = True  # False: bulk encoding, ids packed in TokenizeResult.packed


class TokenizerStats(Base, tag="tokenizers.stats"):
    """What a tokenizer makes of a whole dataset, and what padding costs."""

    tokenizer: str
    dataset: str
    split: str | None = None
    batch_size: int = 32
    max_length: int = 512
    top: int = 30
    bins: int = 30
    seed: int = 13


class Encode(Base, tag="encode"):
    """One-hot, bag-of-words or TF-IDF of a text against a dataset's vocabulary."""

    dataset: str
    text: str
    kind: Literal["onehot", "bow", "tfidf"] = "bow"
    split: str | None = "train"
    lowercase: bool = True
    max_features: int | None = None
    top: int = 50


class VectorSources(Base, tag="vectors.list"):
    pass


class VectorAdd(Base, tag="vectors.add"):
    """Register a static vector file: GloVe/word2vec text, or .npy with a word list."""

    name: str
    path: str
    words_path: str | None = None  # for .npy: one word a line, in row order
    format: Literal["auto", "text", "npy"] = "auto"


class VectorDelete(Base, tag="vectors.delete"):
    name: str


class VectorFromRun(Base, tag="vectors.from_run"):
    """Make a trained run's embedding layer (its best checkpoint) a static source."""

    run_id: str
    name: str


class Neighbours(Base, tag="neighbours"):
    """Nearest words by cosine; query is a word or an expression like `king - man + woman`."""

    query: str
    source: str = "glove-6b-50d"
    k: int = 10
    exclude_inputs: bool = True


class NeighboursBatch(Base, tag="neighbours.batch"):
    words: list[str]
    source: str = "glove-6b-50d"
    k: int = 10


class ContextSimilarity(Base, tag="similarity.context"):
    """One word inside several sentences: how its contextual vector moves."""

    word: str
    sentences: list[str]
    source: str = "minilm"
    static_source: str = "glove-6b-50d"


class SentenceSimilarity(Base, tag="similarity.sentences"):
    sentences: list[str]
    source: str = "minilm"


class Project(Base, tag="project"):
    """Words reduced to 2D (a job: replies JobStarted; ends with ProjectionResult)."""

    words: list[str] = []
    groups: dict[str, list[str]] = {}  # group name -> words, drawn in colours
    neighbours_of: str | None = None  # add this word's k nearest as a group
    k: int = 20
    source: str = "glove-6b-50d"
    method: Literal["pca", "tsne"] = "pca"
    perplexity: float = 30.0
    seed: int = 13


class RunStart(Base, tag="runs.start"):
    """Start a training run from a TOML configuration (the same file the CLI takes)."""

    config_toml: str
    name: str | None = None


class RunList(Base, tag="runs.list"):
    pass


class RunShow(Base, tag="runs.show"):
    """A run's whole history (reattaching shows everything at once)."""

    run_id: str
    max_points: int = 0  # per series; 0: every point, else evenly thinned to this many


class RunControl(Base, tag="runs.control"):
    run_id: str
    action: Literal["pause", "resume", "stop", "checkpoint", "set_lr"]
    lr: float | None = None


class RunResume(Base, tag="runs.resume"):
    """Continue an interrupted or stopped run from its last checkpoint."""

    run_id: str


class RunExport(Base, tag="runs.export"):
    run_id: str
    path: str


class RunSchema(Base, tag="runs.schema"):
    """Every architecture's settings and the training settings, for a form to show."""


class RunPlan(Base, tag="runs.plan"):
    """Check a run configuration field by field and describe the model it would build."""

    config_toml: str


Call = (
    Ping
    | Status
    | Shutdown
    | Cancel
    | Jobs
    | StreamEvents
    | DatasetList
    | DatasetShow
    | DatasetOpen
    | DatasetRows
    | DatasetRow
    | DatasetStats
    | DatasetPreview
    | DatasetImport
    | DatasetSplit
    | DatasetReport
    | DatasetDelete
    | TokenizerList
    | TokenizerShow
    | TokenizerTrain
    | TokenizerAdd
    | TokenizerDelete
    | Tokenize
    | TokenizerStats
    | Encode
    | VectorSources
    | VectorAdd
    | VectorDelete
    | VectorFromRun
    | Neighbours
    | NeighboursBatch
    | ContextSimilarity
    | SentenceSimilarity
    | Project
    | RunStart
    | RunList
    | RunShow
    | RunControl
    | RunResume
    | RunExport
    | RunSchema
    | RunPlan
)


# --------------------------------------------------------------------- results


class Ok(Base, tag="ok"):
    message: str = ""


class Pong(Base, tag="pong"):
    payload: bytes = b""


class StatusResult(Base, tag="status"):
    session_id: str
    pid: int
    version: str
    started: float
    home: str
    data_dir: str
    socket: str
    log_path: str
    device: DeviceInfo
    jobs: list[JobInfo]
    clients: int


class JobStarted(Base, tag="job"):
    job_id: str


class JobList(Base, tag="jobs"):
    jobs: list[JobInfo]


class DatasetListResult(Base, tag="datasets"):
    datasets: list[DatasetInfo]


class DatasetResult(Base, tag="dataset"):
    dataset: DatasetInfo


class RowsPage(Base, tag="rows"):
    name: str
    total: int  # rows matching the filter
    offset: int
    rows: list[Row]


class RowResult(Base, tag="row"):
    row: Row


class StatsResult(Base, tag="stats"):
    name: str
    split: str | None
    rows: int
    labels: dict[str, int]
    words: HistogramInfo
    characters: HistogramInfo


class PreviewResult(Base, tag="preview"):
    preview: PreviewInfo


class SplitResult(Base, tag="split"):
    name: str
    seed: int
    stratified: bool
    group_column: str | None
    splits: list[LabelSplitCounts]
    note: str = ""


class ReportResult(Base, tag="report"):
    name: str
    rows: int
    duplicate_rows: int  # rows whose text appeared earlier
    duplicate_groups: list[DuplicateGroup]
    cross_split_texts: int  # distinct texts found in more than one split
    cross_split_groups: list[DuplicateGroup]


class TokenizerListResult(Base, tag="tokenizers"):
    tokenizers: list[TokenizerInfo]


class TokenizerResult(Base, tag="tokenizer"):
    tokenizer: TokenizerInfo


class PackedTokens(Base, gc=False):
    """Bulk encoding (Tokenize with detail=False): every text's ids in one buffer."""

    ids: bytes  # int32 little-endian, text after text
    lengths: list[int]  # positions per text (padded width when padding)
    attention_mask: bytes = b""  # uint8 per position when padding; empty: all ones
    truncated: list[int] = []  # indices of the texts truncation cut


class TokenizeResult(Base, tag="tokens"):
    tokenizer: str
    encodings: list[TokenView]  # empty for bulk encoding: see packed
    chars: int  # characters encoded in all
    seconds: float  # time the engine spent encoding
    packed: PackedTokens | None = None


class TokenStatsResult(Base, tag="token_stats"):
    tokenizer: str
    dataset: str
    split: str | None
    rows: int
    tokens: int  # all tokens, specials included, before truncation
    lengths: HistogramInfo
    unknown_rate: float  # unknown tokens / tokens
    vocab_coverage: float  # share of the vocabulary that occurs in the data
    top_tokens: list[TokenCount]
    padding: list[PaddingCost]
    truncated_share: float  # texts longer than max_length
    batch_size: int
    max_length: int


class EncodeResult(Base, tag="encoding"):
    dataset: str
    kind: str
    vocabulary_size: int
    terms: list[TermValue]  # the text's non-zero entries, largest first
    nonzero: int
    unknown: list[str]  # words of the text outside the vocabulary


class VectorSourcesResult(Base, tag="vectors"):
    sources: list[VectorSourceInfo]


class VectorSourceResult(Base, tag="vector_source"):
    source: VectorSourceInfo


class NeighboursResult(Base, tag="neighbours"):
    source: str
    query: str
    terms: list[ExpressionTerm]
    neighbours: list[Neighbour]
    unknown: list[str]  # words of the query outside the vocabulary
    seconds: float


class NeighboursBatchResult(Base, tag="neighbours.batch"):
    source: str
    results: list[list[Neighbour]]  # one list per word, [] for unknown words
    unknown: list[str]
    seconds: float


class ContextResult(Base, tag="context"):
    word: str
    source: str
    sentences: list[str]
    found: list[bool]  # whether the word occurs in each sentence
    pieces: list[list[str]]  # the subword pieces averaged for the word, per sentence
    similarity: list[list[float]]  # cosine between the word's contextual vectors
    static_source: str
    static_known: bool  # the static source has one vector for the word, whatever the sentence
    truncated: list[bool] = []  # sentences the model read only the first 512 tokens of


class SentenceSimilarityResult(Base, tag="similarity.sentences"):
    source: str
    sentences: list[str]
    matrix: list[list[float]]
    truncated: list[bool] = []


class ProjectionResult(Base, tag="projection"):
    method: str
    source: str
    points: list[ProjectedPoint]
    unknown: list[str]
    explained: list[float] = []  # PCA: variance share of each axis
    seconds: float = 0.0
    note: str = ""  # e.g. a t-SNE perplexity lowered to suit few points


class RunResult(Base, tag="run"):
    run: RunInfo


class RunListResult(Base, tag="runs"):
    runs: list[RunInfo]


class RunHistory(Base, tag="run.history"):
    run: RunInfo
    series: dict[str, list[tuple[int, float]]]  # name -> (step, value)
    evals: list[EvalReport]
    config_toml: str


class RunSchemaResult(Base, tag="run.schema"):
    architectures: list[ArchitectureInfo]
    train: list[SettingSpec]
    device: str  # where runs train: cuda, mps or cpu
    precisions: list[str]  # the ones this device can train in


class RunPlanResult(Base, tag="run.plan"):
    """What a configuration would build: problems per field, or the model and its costs."""

    problems: list[FieldProblem] = []
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


Result = (
    Ok
    | Pong
    | StatusResult
    | JobStarted
    | JobList
    | DatasetListResult
    | DatasetResult
    | RowsPage
    | RowResult
    | StatsResult
    | PreviewResult
    | SplitResult
    | ReportResult
    | TokenizerListResult
    | TokenizerResult
    | TokenizeResult
    | TokenStatsResult
    | EncodeResult
    | VectorSourcesResult
    | VectorSourceResult
    | NeighboursResult
    | NeighboursBatchResult
    | ContextResult
    | SentenceSimilarityResult
    | ProjectionResult
    | RunResult
    | RunListResult
    | RunHistory
    | RunSchemaResult
    | RunPlanResult
)


# --------------------------------------------------------------------- events


class JobProgress(Base, tag="job.progress"):
    job: JobInfo


class JobEnded(Base, tag="job.ended"):
    job: JobInfo
    error: ErrorInfo | None = None
    result: Result | None = None


class JobLog(Base, tag="job.log"):
    job_id: str
    seq: int
    text: str


class DeviceUpdate(Base, tag="device"):
    device: DeviceInfo
    jobs_running: int = 0


class DatasetsChanged(Base, tag="datasets.changed"):
    name: str
    change: Literal["added", "updated", "deleted"]


class TokenizersChanged(Base, tag="tokenizers.changed"):
    name: str
    change: Literal["added", "updated", "deleted"]


class RunMetrics(Base, tag="run.metrics"):
    points: list[MetricPoint]


class RunUpdate(Base, tag="run.update"):
    run: RunInfo


class RunEval(Base, tag="run.eval"):
    run_id: str
    report: EvalReport


Event = (
    JobProgress
    | JobEnded
    | JobLog
    | DeviceUpdate
    | DatasetsChanged
    | TokenizersChanged
    | RunMetrics
    | RunUpdate
    | RunEval
)


# --------------------------------------------------------------------- frames


class Hello(Base, tag="hello"):
    protocol_version: int
    client: str = "workbench"


class Welcome(Base, tag="welcome"):
    protocol_version: int
    session_id: str
    engine_version: str
    pid: int


class Goodbye(Base, tag="goodbye"):
    """The engine closes this connection; reason says why."""

    reason: str


class Request(Base, tag="req"):
    id: int
    call: Call


class Reply(Base, tag="rep"):
    id: int
    result: Result | None = None
    error: ErrorInfo | None = None


class EventBatch(Base, tag="events"):
    events: list[Event]
    dropped: int = 0  # events this client missed because it read too slowly


ClientFrame = Hello | Request
EngineFrame = Welcome | Goodbye | Reply | EventBatch
Frame = ClientFrame | EngineFrame


class ProtocolError(Exception):
    """A frame that cannot be read: too large, truncated, or not a known message."""


_encoder = msgspec.msgpack.Encoder()


def encode(msg: Frame) -> bytes:
    """The framed bytes of one message: length prefix and msgpack body."""
    body = _encoder.encode(msg)
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get whole messages out."""

    def __init__(self, kind: Any = Frame, max_frame: int = MAX_FRAME) -> None:
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(kind)
        self._buf = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return every complete message. Raises ProtocolError on garbage."""
        buf = self._buf
        buf += data
        out: list[Any] = []
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            (size,) = _HEADER.unpack_from(buf, pos)
            if size > self._max:
                raise ProtocolError(f"frame of {size} bytes is over the {self._max}-byte limit")
            if n - pos - 4 < size:
                break
            body = bytes(buf[pos + 4 : pos + 4 + size])
            pos += 4 + size
            try:
                out.append(self._decoder.decode(body))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ProtocolError(f"unreadable frame: {exc}") from None
        if pos:
            del buf[:pos]
        return out


def decode_one(data: bytes, kind: Any = Frame) -> Any:
    """Decode exactly one framed message (tests and tools)."""
    msgs = FrameDecoder(kind).feed(data)
    if len(msgs) != 1:
        raise ProtocolError(f"expected one frame, found {len(msgs)}")
    return msgs[0]


def error(code: str, message: str, hint: str = "") -> ErrorInfo:
    return ErrorInfo(code=code, message=message, hint=hint)
