"""Where the bundled data lives: beside the package in a checkout (and editable installs), else
in the data files a wheel installs under `<prefix>/share/ticket-policy`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_INSTALLED = Path(sys.prefix) / "share" / "ticket-policy"


def data_dir(name: str) -> Path:
    """`rules` or `schemas`."""
    for base in (ROOT, _INSTALLED):
        if (base / name).is_dir():
            return base / name
    return ROOT / name
