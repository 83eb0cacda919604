"""The datasets Baton extracts: one declaration each, in the catalogue folder, read once.

Each dataset is a YAML file (`platform_defs/catalogue/<name>.yaml`, or in the folder
`BATON_CATALOGUE_DIR` names) holding everything about it; `platform_defs.declarations` reads and
validates them when this module is imported, so a bad declaration fails the code location at
once, naming its file, line and field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from platform_defs.dataset_spec import SNOWFLAKE_TYPES, Column, Dataset, VendorEndpoint, http_vendors
from platform_defs.declarations import load_catalogue

__all__ = [
    "CATALOGUE_DIR",
    "CATALOGUE_ENV",
    "DATASETS",
    "SNOWFLAKE_TYPES",
    "Column",
    "Dataset",
    "VendorEndpoint",
    "catalogue_dir",
    "http_vendors",
]

CATALOGUE_DIR = Path(__file__).parent / "catalogue"
CATALOGUE_ENV = "BATON_CATALOGUE_DIR"


def catalogue_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The catalogue folder: `BATON_CATALOGUE_DIR`, else the one shipped in this package."""
    configured = (os.environ if environ is None else environ).get(CATALOGUE_ENV)
    return Path(configured) if configured else CATALOGUE_DIR


DATASETS: dict[str, Dataset] = load_catalogue(catalogue_dir())
