"""The ``keywords`` analyser: a text is in every theme of the taxonomy one of whose keywords
or phrases it contains as whole words (case ignored; a trailing ``*`` matches any ending),
and gets a VADER sentiment score (docs/themes.md, "The keyword analyser").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from crmsync import Analysis, Taxonomy, Text, TextAnalyser, Theme
from crmsync_themes.sentiment import score

__all__ = ["KeywordAnalyser", "theme_pattern"]


def theme_pattern(theme: Theme) -> re.Pattern[str]:
    """One regular expression matching any keyword of ``theme`` as whole words."""
    alternatives = []
    for keyword in sorted(theme.keywords, key=len, reverse=True):
        stem = keyword.rstrip("*")
        words = r"\s+".join(re.escape(w) for w in stem.split())
        alternatives.append(words + (r"\w*" if keyword.endswith("*") else ""))
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


class KeywordAnalyser(TextAnalyser):
    """Themes from the taxonomy's keywords, sentiment from VADER."""

    NAME = "keywords"
    title = "Taxonomy keywords (any language) and a VADER sentiment score"
    version = 1

    def __init__(self, taxonomy: Taxonomy, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(taxonomy, options)
        self._patterns = [(t, theme_pattern(t)) for t in taxonomy.themes if t.keywords]

    def analyse_one(self, text: str, source: str) -> Analysis:
        """The themes and sentiment of one text."""
        found: list[str] = []
        matched: dict[str, str] = {}
        for theme, pattern in self._patterns:
            if not theme.applies_to(source):
                continue
            hit = pattern.search(text)
            if hit:
                found.append(theme.id)
                matched[theme.id] = " ".join(hit.group(0).lower().split())
        return Analysis(themes=tuple(found), sentiment=score(text), matched=matched)

    def analyse(self, texts: Sequence[Text]) -> list[Analysis]:
        """Each text on its own (the analyser is incremental)."""
        return [self.analyse_one(t.text, t.source) for t in texts]
