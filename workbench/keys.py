"""User key bindings: `keys.toml` in the config dir maps binding ids to keys.

[keys]
"app.quit" = "ctrl+q"
"datasets.import" = "I"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from engine.paths import config_dir


def keymap_path() -> Path:
    return config_dir() / "keys.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], str]:
    """The keymap and a problem to report ("" when none); a bad file never stops the app."""
    path = path or keymap_path()
    if not path.exists():
        return {}, ""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, f"{path}: {exc}; using the default keys"
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in keys.items()
    ):
        return (
            {},
            f'{path}: expected a [keys] table of "binding.id" = "key"; using the default keys',
        )
    return dict(keys), ""
