"""The wire contract between the workbench front (app, CLI) and the engine.

Every message is a msgspec Struct in a tagged union, with a tag `<domain>.<name>`; each domain
has its module here (system, datasets, tokenizers, embeddings, training) and wire.py frames them.
Every call declares the type of its one result (`Returns[R]`, `StartsJob[J]`, see base.py). This
package is the one source of truth for messages; it must never import torch (a test checks).
Import it as `from engine import protocol as P` and use the names re-exported here.
"""

from __future__ import annotations

from engine.protocol.attack import (
    AttackExample,
    AttackRecipes,
    AttackRecipesResult,
    AttackResult,
    AttackRun,
    AttackStep,
    AttackSummary,
    RecipeInfo,
    RecipeSetting,
    TextChange,
)
from engine.protocol.base import (
    Base,
    ErrorInfo,
    HistogramInfo,
    JobStarted,
    Ok,
    Returns,
    StartsJob,
    error,
    job_result_type,
    result_type,
)
from engine.protocol.datasets import (
    DatasetDelete,
    DatasetGenerate,
    DatasetImport,
    DatasetInfo,
    DatasetList,
    DatasetListResult,
    DatasetOpen,
    DatasetPreview,
    DatasetRename,
    DatasetReport,
    DatasetResult,
    DatasetRow,
    DatasetRows,
    DatasetShow,
    DatasetSplit,
    DatasetStats,
    DuplicateGroup,
    LabelSplitCounts,
    PreviewInfo,
    PreviewResult,
    ReportResult,
    Row,
    RowResult,
    RowsPage,
    SplitResult,
    StatsResult,
)
from engine.protocol.embeddings import (
    ContextResult,
    ContextSimilarity,
    ExpressionTerm,
    Neighbour,
    Neighbours,
    NeighboursBatch,
    NeighboursBatchResult,
    NeighboursResult,
    Project,
    ProjectedPoint,
    ProjectionResult,
    SentenceSimilarity,
    SentenceSimilarityResult,
    VectorAdd,
    VectorDelete,
    VectorSourceInfo,
    VectorSourceResult,
    VectorSources,
    VectorSourcesResult,
)
from engine.protocol.generation import (
    SMOLLM2,
    Generate,
    GeneratedToken,
    GeneratedTokens,
    GenerateResult,
    ScoredToken,
    ScoreResult,
    ScoreText,
    StopReason,
    Translate,
    TranslateResult,
)
from engine.protocol.system import (
    DOWNLOAD_CHUNK,
    Cancel,
    CatalogChanged,
    CatalogKind,
    DeviceInfo,
    DeviceUpdate,
    Doctor,
    DoctorResult,
    DownloadChunk,
    DownloadReady,
    EngineLog,
    FileDownload,
    FileUpload,
    GpuInfo,
    JobInfo,
    JobList,
    JobLog,
    JobProgress,
    Jobs,
    JobState,
    LogTail,
    Ping,
    Pong,
    Shutdown,
    StagedFile,
    Status,
    StatusResult,
    StreamEvents,
    UploadResult,
)
from engine.protocol.tokenizers import (
    Encode,
    EncodeResult,
    PackedTokens,
    PaddingCost,
    PostTemplate,
    TermValue,
    TokenCount,
    Tokenize,
    TokenizerAdd,
    TokenizerDelete,
    TokenizeResult,
    TokenizerInfo,
    TokenizerKind,
    TokenizerList,
    TokenizerListResult,
    TokenizerResult,
    TokenizerShow,
    TokenizerStats,
    TokenizerTrain,
    TokenStatsResult,
    TokenView,
)
from engine.protocol.training import (
    POOLS,
    RUN_DATA_KEYS,
    TRUNCATIONS,
    ArchitectureInfo,
    BatchPredictResult,
    Completeness,
    Disagreement,
    DisagreeResult,
    EvalReport,
    ExampleRow,
    Explanation,
    FieldProblem,
    LayerRow,
    MetricPoint,
    Prediction,
    RunControl,
    RunDelete,
    RunDisagree,
    RunEval,
    RunExamples,
    RunExamplesResult,
    RunExport,
    RunExportStaged,
    RunHistory,
    RunInfo,
    RunList,
    RunListResult,
    RunMetrics,
    RunPlan,
    RunPlanResult,
    RunPredict,
    RunPredictBatch,
    RunPredictResult,
    RunRename,
    RunResult,
    RunResume,
    RunSchema,
    RunSchemaResult,
    RunShow,
    RunStart,
    RunState,
    RunUpdate,
    SettingSpec,
    VectorFromRun,
    WordScore,
)

PROTOCOL_VERSION = 9  # 2: one package, tags <domain>.<name>, CatalogChanged; 3: training.predict;
# 4: training.predict_batch; 5: explanations in training.predict, training.disagree
# 6: lm.generate / lm.score; 7: attack.recipes / attack.run
# 8: system.doctor, system.upload; the Welcome names the engine's host, device and capabilities
# 9: training.export_staged, system.download (an export fetched by a client on another machine)

Call = (
    # system
    Ping
    | Status
    | Shutdown
    | StreamEvents
    | Cancel
    | Jobs
    | EngineLog
    | Doctor
    | FileUpload
    | FileDownload
    # datasets
    | DatasetList
    | DatasetShow
    | DatasetOpen
    | DatasetRows
    | DatasetRow
    | DatasetStats
    | DatasetPreview
    | DatasetImport
    | DatasetGenerate
    | DatasetSplit
    | DatasetReport
    | DatasetDelete
    | DatasetRename
    # tokenizers
    | TokenizerList
    | TokenizerShow
    | TokenizerTrain
    | TokenizerAdd
    | TokenizerDelete
    | Tokenize
    | TokenizerStats
    | Encode
    # embeddings
    | VectorSources
    | VectorAdd
    | VectorDelete
    | Neighbours
    | NeighboursBatch
    | ContextSimilarity
    | SentenceSimilarity
    | Project
    # training
    | RunStart
    | RunList
    | RunShow
    | RunControl
    | RunResume
    | RunExport
    | RunExportStaged
    | RunRename
    | RunDelete
    | RunExamples
    | RunPredict
    | RunPredictBatch
    | RunDisagree
    | VectorFromRun
    | RunSchema
    | RunPlan
    # lm
    | Generate
    | ScoreText
    | Translate
    # attack
    | AttackRecipes
    | AttackRun
)

Result = (
    # system
    Ok
    | Pong
    | StatusResult
    | JobStarted
    | JobList
    | LogTail
    | DoctorResult
    | UploadResult
    | DownloadReady
    | DownloadChunk
    # datasets
    | DatasetListResult
    | DatasetResult
    | RowsPage
    | RowResult
    | StatsResult
    | PreviewResult
    | SplitResult
    | ReportResult
    # tokenizers
    | TokenizerListResult
    | TokenizerResult
    | TokenizeResult
    | TokenStatsResult
    | EncodeResult
    # embeddings
    | VectorSourcesResult
    | VectorSourceResult
    | NeighboursResult
    | NeighboursBatchResult
    | ContextResult
    | SentenceSimilarityResult
    | ProjectionResult
    # training
    | RunResult
    | RunListResult
    | RunHistory
    | RunExamplesResult
    | RunPredictResult
    | BatchPredictResult
    | DisagreeResult
    | RunSchemaResult
    | RunPlanResult
    # lm
    | GenerateResult
    | AttackRecipesResult
    | AttackResult
    | ScoreResult
    | TranslateResult
)


class JobEnded(Base, tag="jobs.ended"):
    """A job's end: its final state, and its error or its result (of the type its call
    declares: see job_result_type). Here, not in system.py, because it carries any Result."""

    job: JobInfo
    error: ErrorInfo | None = None
    result: Result | None = None


Event = (
    # system
    JobProgress
    | JobEnded
    | JobLog
    | DeviceUpdate
    | CatalogChanged
    # training
    | RunMetrics
    | RunUpdate
    | RunEval
    # lm
    | GeneratedTokens
)

# The frames carry the unions above, so they come last.
from engine.protocol.wire import (  # noqa: E402
    MAX_FRAME,
    ClientFrame,
    EngineFrame,
    EventBatch,
    Frame,
    FrameDecoder,
    Goodbye,
    Hello,
    ProtocolError,
    Reply,
    Request,
    Welcome,
    decode_one,
    encode,
    peer_uid,
)

__all__ = [
    "DOWNLOAD_CHUNK",
    "MAX_FRAME",
    "POOLS",
    "PROTOCOL_VERSION",
    "RUN_DATA_KEYS",
    "SMOLLM2",
    "TRUNCATIONS",
    "ArchitectureInfo",
    "AttackExample",
    "AttackRecipes",
    "AttackRecipesResult",
    "AttackResult",
    "AttackRun",
    "AttackStep",
    "AttackSummary",
    "Base",
    "BatchPredictResult",
    "Call",
    "Cancel",
    "CatalogChanged",
    "CatalogKind",
    "ClientFrame",
    "Completeness",
    "ContextResult",
    "ContextSimilarity",
    "DatasetDelete",
    "DatasetGenerate",
    "DatasetImport",
    "DatasetInfo",
    "DatasetList",
    "DatasetListResult",
    "DatasetOpen",
    "DatasetPreview",
    "DatasetRename",
    "DatasetReport",
    "DatasetResult",
    "DatasetRow",
    "DatasetRows",
    "DatasetShow",
    "DatasetSplit",
    "DatasetStats",
    "DeviceInfo",
    "DeviceUpdate",
    "DisagreeResult",
    "Disagreement",
    "Doctor",
    "DoctorResult",
    "DownloadChunk",
    "DownloadReady",
    "DuplicateGroup",
    "Encode",
    "EncodeResult",
    "EngineFrame",
    "EngineLog",
    "ErrorInfo",
    "EvalReport",
    "Event",
    "EventBatch",
    "ExampleRow",
    "Explanation",
    "ExpressionTerm",
    "FieldProblem",
    "FileDownload",
    "FileUpload",
    "Frame",
    "FrameDecoder",
    "Generate",
    "GenerateResult",
    "GeneratedToken",
    "GeneratedTokens",
    "Goodbye",
    "GpuInfo",
    "Hello",
    "HistogramInfo",
    "JobEnded",
    "JobInfo",
    "JobList",
    "JobLog",
    "JobProgress",
    "JobStarted",
    "JobState",
    "Jobs",
    "LabelSplitCounts",
    "LayerRow",
    "LogTail",
    "MetricPoint",
    "Neighbour",
    "Neighbours",
    "NeighboursBatch",
    "NeighboursBatchResult",
    "NeighboursResult",
    "Ok",
    "PackedTokens",
    "PaddingCost",
    "Ping",
    "Pong",
    "PostTemplate",
    "Prediction",
    "PreviewInfo",
    "PreviewResult",
    "Project",
    "ProjectedPoint",
    "ProjectionResult",
    "ProtocolError",
    "RecipeInfo",
    "RecipeSetting",
    "Reply",
    "ReportResult",
    "Request",
    "Result",
    "Returns",
    "Row",
    "RowResult",
    "RowsPage",
    "RunControl",
    "RunDelete",
    "RunDisagree",
    "RunEval",
    "RunExamples",
    "RunExamplesResult",
    "RunExport",
    "RunExportStaged",
    "RunHistory",
    "RunInfo",
    "RunList",
    "RunListResult",
    "RunMetrics",
    "RunPlan",
    "RunPlanResult",
    "RunPredict",
    "RunPredictBatch",
    "RunPredictResult",
    "RunRename",
    "RunResult",
    "RunResume",
    "RunSchema",
    "RunSchemaResult",
    "RunShow",
    "RunStart",
    "RunState",
    "RunUpdate",
    "ScoreResult",
    "ScoreText",
    "ScoredToken",
    "SentenceSimilarity",
    "SentenceSimilarityResult",
    "SettingSpec",
    "Shutdown",
    "SplitResult",
    "StagedFile",
    "StartsJob",
    "StatsResult",
    "Status",
    "StatusResult",
    "StopReason",
    "StreamEvents",
    "TermValue",
    "TextChange",
    "TokenCount",
    "TokenStatsResult",
    "TokenView",
    "Tokenize",
    "TokenizeResult",
    "TokenizerAdd",
    "TokenizerDelete",
    "TokenizerInfo",
    "TokenizerKind",
    "TokenizerList",
    "TokenizerListResult",
    "TokenizerResult",
    "TokenizerShow",
    "TokenizerStats",
    "TokenizerTrain",
    "Translate",
    "TranslateResult",
    "UploadResult",
    "VectorAdd",
    "VectorDelete",
    "VectorFromRun",
    "VectorSourceInfo",
    "VectorSourceResult",
    "VectorSources",
    "VectorSourcesResult",
    "Welcome",
    "WordScore",
    "decode_one",
    "encode",
    "error",
    "job_result_type",
    "peer_uid",
    "result_type",
]
