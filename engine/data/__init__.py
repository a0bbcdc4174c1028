"""Datasets: importing, built-ins, and the stored form the engine reads (engine.data.stored).

Everything here raises DataError with a message a person can act on; nothing imports torch.
"""

from engine.data.builtin import BUILTINS, BuiltinSpec, build_builtin, builtin_info
from engine.data.errors import Cancelled, DataError, JobContext, NullContext
from engine.data.importer import import_source, preview
from engine.data.stored import StoredDataset

__all__ = [
    "BUILTINS",
    "BuiltinSpec",
    "Cancelled",
    "DataError",
    "JobContext",
    "NullContext",
    "StoredDataset",
    "build_builtin",
    "builtin_info",
    "import_source",
    "preview",
]
