"""Assets: for every dataset a raw extraction (a chain), a lake build and a warehouse load."""

from platform_defs.assets.pipeline import dataset_assets

__all__ = ["dataset_assets"]
