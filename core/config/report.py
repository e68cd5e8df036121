"""The settings told to people: the README's table, and the effective values with secrets masked."""

from __future__ import annotations

from typing import Any

from core.config.settings import DEFAULT_RENDITIONS, ENV_PREFIX, Settings


def settings_table() -> str:
    """The settings as a Markdown table (variable, default, meaning), for the README."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.get_default(call_default_factory=True)
        if name == "renditions":
            shown = ",".join(spec.compact for spec in DEFAULT_RENDITIONS)
        elif default is None or default == []:
            shown = "(unset)"
        elif isinstance(default, list):
            shown = ",".join(str(item) for item in default)
        else:
            shown = str(default)
        meaning = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | `{shown}` | {meaning} |")
    return "\n".join(rows)


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings with every secret masked: what may be logged or printed."""
    values = settings.model_dump(mode="json")
    for name, info in Settings.model_fields.items():
        annotation = str(info.annotation)
        if "SecretStr" in annotation and values.get(name):
            values[name] = "********" if not isinstance(values[name], list) else ["********"]
    if "@" in settings.database_url:
        from sqlalchemy.engine import make_url

        values["database_url"] = make_url(settings.database_url).render_as_string(
            hide_password=True
        )
    return values
