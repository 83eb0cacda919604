"""Resources, built from `Settings` in one place (`build_resources`) for either environment."""

from platform_defs.resources.build import build_resources
from platform_defs.resources.lake import Lake, LocalLake
from platform_defs.resources.warehouse import LocalSnowflakeResource, SnowflakeResource

__all__ = ["Lake", "LocalLake", "LocalSnowflakeResource", "SnowflakeResource", "build_resources"]
