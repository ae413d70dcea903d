"""The text-analyser interface (docs/themes.md, docs/plugins.md): what turns the texts
customers and deals leave in a CRM — survey comments, won and lost reasons, call outcomes —
into themes and a sentiment.

An analyser is a class registered by ``crmsync_register_analysers``. crmsync builds it with
the theme taxonomy in force and the analyser's options (``[themes.options]``), gives it the
texts that are new or changed since the last run (all of them when the analyser is not
:attr:`~TextAnalyser.incremental`), and stores one result per text in ``text_themes``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["Text", "Theme", "Taxonomy", "Analysis", "TextAnalyser"]


@dataclass(frozen=True)
class Text:
    """One text to analyse: where it comes from and what it says.

    ``source`` is ``entity.field`` (``feedback.comment``, ``opportunities.lost_reason``…);
    ``key`` identifies the record (connection, entity, remote id, field)."""

    key: tuple[str, str, str, str]
    source: str
    text: str


@dataclass(frozen=True)
class Theme:
    """One theme of the taxonomy: an id (``price``), a title (``Price``) and the keywords or
    phrases (any language; lower case; a trailing ``*`` matches any word ending) that put a
    text in it; ``sources`` (``entity.field``) limits it to those texts (empty: all)."""

    id: str
    title: str
    keywords: tuple[str, ...] = ()
    description: str = ""
    sources: tuple[str, ...] = ()

    def applies_to(self, source: str) -> bool:
        """Whether texts of ``source`` can be in this theme."""
        return not self.sources or source in self.sources


@dataclass(frozen=True)
class Taxonomy:
    """The themes in force, in order (docs/themes.md, "Taxonomy")."""

    themes: tuple[Theme, ...] = ()

    def title(self, theme_id: str) -> str:
        """The title of ``theme_id``; the id itself for a theme the taxonomy does not know
        (a cluster's label)."""
        return next((t.title for t in self.themes if t.id == theme_id), theme_id)

    @property
    def fingerprint(self) -> str:
        """A hash of the themes and their keywords: stored results made under another
        taxonomy are analysed again."""
        raw = json.dumps([[t.id, t.title, list(t.keywords), list(t.sources)]
                          for t in self.themes])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Analysis:
    """What an analyser says of one text.

    :param themes: the theme ids the text is about (none is allowed: a text about nothing
        the taxonomy knows). A clustering analyser returns its cluster's label.
    :param sentiment: from −1 (negative) to 1 (positive), or ``None`` when not scored.
    :param matched: the words or phrases that put the text in its themes (evidence shown
        next to quotes), by theme id.
    """

    themes: tuple[str, ...] = ()
    sentiment: float | None = None
    matched: Mapping[str, str] = field(default_factory=dict)


class TextAnalyser:
    """Turns texts into themes and a sentiment. Subclass it and register the class through
    ``crmsync_register_analysers``.

    :param taxonomy: the themes in force (the built-in sales pack, changed by
        ``[themes.taxonomy]``).
    :param options: ``[themes.options]`` of crmsync.toml (the analyser's own settings).
    """

    #: The name users pick in ``[themes] analyser`` (unique among the plugins).
    NAME: ClassVar[str] = ""
    #: One line for ``crmsync plugins`` and the docs.
    title: ClassVar[str] = ""
    #: Bump it when the analyser's output changes: every text is analysed again.
    version: ClassVar[int] = 1
    #: ``False`` for an analyser whose result for one text depends on the others (a
    #: clustering one): it is given every text whenever one is new or changed.
    incremental: ClassVar[bool] = True

    def __init__(self, taxonomy: Taxonomy, options: Mapping[str, Any] | None = None) -> None:
        self.taxonomy = taxonomy
        self.options: Mapping[str, Any] = dict(options or {})

    @property
    def fingerprint(self) -> str:
        """What stored results depend on: name, version, taxonomy and options. A text whose
        stored fingerprint differs is analysed again."""
        raw = json.dumps([self.NAME, self.version, self.taxonomy.fingerprint,
                          sorted((str(k), repr(v)) for k, v in self.options.items())])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]

    def analyse(self, texts: Sequence[Text]) -> list[Analysis]:
        """One :class:`Analysis` per text, in the order given. Raise
        :class:`crmsync.ConfigError` for a missing optional dependency or a bad option."""
        raise NotImplementedError
