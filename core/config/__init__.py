"""The settings of imgpipe: the class (settings), how it is read (loading) and shown (report)."""

from core.config.loading import (
    get_settings,
    load_settings,
    parse_api_keys,
    running_on_lambda,
    settings_with,
)
from core.config.report import redacted, settings_table
from core.config.settings import (
    DEFAULT_RENDITIONS,
    ENV_PREFIX,
    Settings,
    key_digests,
)
from core.processing.policy import RenditionSpec

__all__ = [
    "DEFAULT_RENDITIONS",
    "ENV_PREFIX",
    "RenditionSpec",
    "Settings",
    "get_settings",
    "key_digests",
    "load_settings",
    "parse_api_keys",
    "redacted",
    "running_on_lambda",
    "settings_table",
    "settings_with",
]
