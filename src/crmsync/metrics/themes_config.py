"""``[themes]`` in crmsync.toml and the theme taxonomy in force (docs/themes.md,
docs/configuration.md#themes): the built-in sales pack (``themes_taxonomy.toml`` next to this
module) changed by ``[themes.taxonomy.ID]`` tables, the analyser, its options and the texts
analysed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from crmsync.core.config import Section, SectionContext
from crmsync.core.errors import ConfigError
from crmsync.plugin.analyser import Taxonomy, Theme

__all__ = ["THEMES", "ThemesConfig", "SOURCES", "DEFAULT_SOURCES", "builtin_taxonomy",
           "taxonomy_of", "parse_theme"]

#: Every text crmsync can analyse: ``entity.field`` → what it is.
SOURCES = {
    "feedback.comment": "survey comments",
    "opportunities.lost_reason": "lost reasons",
    "opportunities.won_reason": "won reasons",
    "activities.outcome": "call outcomes",
    "activities.subject": "call subjects",
}
#: The texts analysed unless ``[themes] sources`` says otherwise.
DEFAULT_SOURCES = ("feedback.comment", "opportunities.won_reason",
                   "opportunities.lost_reason", "activities.outcome")
_THEME_KEYS = ("title", "description", "keywords", "add_keywords", "sources", "enabled")
_KEYS = ("analyser", "builtin", "sources", "options", "taxonomy", "examples")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ThemesConfig:
    """``[themes]``: the analyser, whether the built-in pack is used, the theme tables of
    crmsync.toml, the analyser's options, the sources and how many quotes a theme shows."""

    analyser: str = "keywords"
    builtin: bool = True
    taxonomy: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = DEFAULT_SOURCES
    examples: int = 3
    file: str | None = None


def _strings(value: Any, where: str, file: str | None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError("expected a list of non-empty strings", file=file,
                          section="themes.taxonomy", key=where)
    return tuple(" ".join(v.casefold().split()) for v in value)


def _sources(value: Any, where: str, section: str, file: str | None) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError("expected a list of sources such as \"feedback.comment\"",
                          file=file, section=section, key=where)
    for s in value:
        if s not in SOURCES:
            raise ConfigError(f"unknown source {s!r} (known: {', '.join(SOURCES)})",
                              file=file, section=section, key=where)
    return tuple(value)


def parse_theme(theme_id: str, spec: Any, base: Theme | None = None, *,
                file: str | None = None) -> Theme | None:
    """One ``[themes.taxonomy.ID]`` table applied to ``base`` (the theme of that id so far,
    if any); ``None`` when it switches the theme off. Errors name the theme and the key."""
    section = "themes.taxonomy"
    if not isinstance(spec, Mapping):
        raise ConfigError("a theme must be a table (title, keywords…)", file=file,
                          section=section, key=theme_id)
    if not _ID.match(theme_id):
        raise ConfigError("a theme id must be lower-case letters, digits and _", file=file,
                          section=section, key=theme_id)
    for key in spec:
        if key not in _THEME_KEYS:
            raise ConfigError(f"unknown key '{key}' (known: {', '.join(_THEME_KEYS)})",
                              file=file, section=section, key=f"{theme_id}.{key}")
    if spec.get("enabled", True) is False:
        return None
    title = spec.get("title", base.title if base else None)
    if not isinstance(title, str) or not title.strip():
        raise ConfigError("a new theme needs a 'title'", file=file, section=section,
                          key=f"{theme_id}.title")
    keywords = (_strings(spec["keywords"], f"{theme_id}.keywords", file) if "keywords" in spec
                else base.keywords if base else ())
    if "add_keywords" in spec:
        extra = _strings(spec["add_keywords"], f"{theme_id}.add_keywords", file)
        keywords = (*keywords, *(k for k in extra if k not in keywords))
    if not keywords:
        raise ConfigError("a theme needs 'keywords'", file=file, section=section,
                          key=f"{theme_id}.keywords")
    sources = (_sources(spec["sources"], f"{theme_id}.sources", section, file)
               if "sources" in spec else base.sources if base else ())
    description = spec.get("description", base.description if base else "")
    return Theme(id=theme_id, title=title.strip(), keywords=keywords,
                 description=str(description), sources=sources)


def builtin_taxonomy() -> Taxonomy:
    """The built-in sales pack (``themes_taxonomy.toml``)."""
    text = resources.files("crmsync.metrics").joinpath("themes_taxonomy.toml").read_text("utf-8")
    themes = []
    for theme_id, spec in tomllib.loads(text)["themes"].items():
        theme = parse_theme(theme_id, spec, file="themes_taxonomy.toml (built-in)")
        assert theme is not None
        themes.append(theme)
    return Taxonomy(tuple(themes))


def taxonomy_of(settings: ThemesConfig) -> Taxonomy:
    """The taxonomy in force: the built-in pack (unless ``builtin = false``), each
    ``[themes.taxonomy.ID]`` replacing, extending or switching off the theme of its id, or
    adding one."""
    themes = {t.id: t for t in (builtin_taxonomy().themes if settings.builtin else ())}
    for theme_id, spec in settings.taxonomy.items():
        theme = parse_theme(theme_id, spec, themes.get(theme_id), file=settings.file)
        if theme is None:
            themes.pop(theme_id, None)
        else:
            themes[theme_id] = theme
    return Taxonomy(tuple(themes.values()))


def _parse_section(raw: Any, ctx: SectionContext) -> ThemesConfig:
    table = ctx.expect(raw, dict, "themes", "themes")
    for key in table:
        if key not in _KEYS:
            raise ctx.error(f"unknown key '{key}' (known: {', '.join(_KEYS)})", "themes", key)
    analyser = ctx.expect(table.get("analyser", "keywords"), str, "themes", "analyser")
    builtin = ctx.expect(table.get("builtin", True), bool, "themes", "builtin")
    options = ctx.expect(table.get("options", {}), dict, "themes", "options")
    taxonomy = ctx.expect(table.get("taxonomy", {}), dict, "themes", "taxonomy")
    examples = ctx.expect(table.get("examples", 3), int, "themes", "examples")
    if not 0 <= examples <= 20:
        raise ctx.error("examples must be 0 to 20", "themes", "examples")
    sources = (_sources(table["sources"], "sources", "themes", ctx.file)
               if "sources" in table else DEFAULT_SOURCES)
    settings = ThemesConfig(analyser=analyser, builtin=builtin, taxonomy=taxonomy,
                            options=options, sources=sources, examples=examples,
                            file=ctx.file)
    taxonomy_of(settings)  # fail early
    return settings


#: ``[themes]`` (docs/configuration.md#themes): ``THEMES.get(config)``.
THEMES: Section[ThemesConfig] = Section("themes", _parse_section, default=ThemesConfig)
