"""The ``embeddings`` analyser (``pip install crmsync[embeddings]``): themes found in the
texts themselves rather than given by a taxonomy (docs/themes.md, "The embedding analyser").

Each distinct text is embedded with WordLlama's static 256-dimension model, whose weights
ship inside the ``wordllama`` wheel (``WordLlama.load(disable_download=True)``: a missing
file is an error, never a download). The texts are clustered with k-means (k from
``[themes.options] clusters``, default ⌈√(texts ÷ 2)⌉ between 2 and 12, fixed seed) and each
cluster is labelled by its most distinctive words: the words most frequent in the cluster
relative to the other clusters (a class-based TF-IDF), stop words of English, German, French
and Spanish left out. Sentiment comes from VADER as for the keyword analyser.

Not incremental: the clusters depend on every text, so all texts are analysed again when any
is new or changed.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from crmsync import Analysis, ConfigError, Taxonomy, Text, TextAnalyser
from crmsync_themes.sentiment import score

__all__ = ["EmbeddingAnalyser", "label_clusters", "STOP_WORDS"]

#: Words never used in a cluster's label.
STOP_WORDS = frozenset(" ".join((
    "a an and are as at be been but by can could did do does for from had has have how i if in",
    "into is it its just me more most my no not of on or our out so some than that the their them",
    "then there these they this to too up us was we were what when which who will with would you",
    "your very also all any being much only over such",
    "der die das und ist nicht ein eine zu mit den von für auf es sich im dem des wir uns sehr",
    "le la les et est pas un une de du des en pour que qui nous très sur au aux ce",
    "el los las y es no un una de del en para que por muy con se lo nos",
)).split())
_WORD = re.compile(r"[^\W\d_]{3,}")


@lru_cache(maxsize=1)
def _model() -> Any:
    """The WordLlama model shipped in the wheel (never downloaded)."""
    try:
        import wordllama
    except ImportError as exc:
        raise ConfigError("the 'embeddings' analyser needs the wordllama package: pip install "
                          "'crmsync[embeddings]'", section="themes", key="analyser") from exc
    # wordllama 0.4 looks for its shipped tokenizer in ``wordllama/tokenizer/`` but the
    # wheel has it in ``wordllama/tokenizers/``, where the cache lookup (``cache_dir /
    # "tokenizers"``) finds it: the package's own folder serves as the cache.
    package = Path(wordllama.__file__).parent
    logging.getLogger("kmeans_logger").setLevel(logging.WARNING)  # one INFO line per k-means run
    try:
        return wordllama.WordLlama.load(cache_dir=package, disable_download=True)
    except FileNotFoundError as exc:
        raise ConfigError(f"the wordllama package has no model file of its own: {exc}",
                          section="themes", key="analyser") from exc


def label_clusters(texts: Sequence[str], labels: Sequence[int], words: int = 3
                   ) -> dict[int, str]:
    """Each cluster's label: its ``words`` most distinctive words joined by `` · ``."""
    counts: dict[int, Counter[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        bag = counts.setdefault(label, Counter())
        bag.update(w for w in _WORD.findall(text.casefold()) if w not in STOP_WORDS)
    spread = Counter(w for bag in counts.values() for w in bag)
    out = {}
    for label, bag in counts.items():
        total = sum(bag.values()) or 1
        ranked = sorted(bag, key=lambda w: (-bag[w] / total
                                            * math.log(1 + len(counts) / spread[w]), w))
        out[label] = " · ".join(ranked[:words]) or f"cluster {label + 1}"
    return out


class EmbeddingAnalyser(TextAnalyser):
    """Clusters of sentence embeddings, labelled by their distinctive words."""

    NAME = "embeddings"
    title = "Clusters of WordLlama sentence embeddings (pip install crmsync[embeddings])"
    version = 1
    incremental = False

    def __init__(self, taxonomy: Taxonomy, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(taxonomy, options)
        clusters = self.options.get("clusters")
        if clusters is not None and (not isinstance(clusters, int) or not 2 <= clusters <= 50):
            raise ConfigError("clusters must be a whole number from 2 to 50",
                              section="themes.options", key="clusters")
        self.clusters: int | None = clusters

    def _k(self, n: int) -> int:
        if self.clusters is not None:
            return min(self.clusters, n)
        return min(n, max(2, min(12, math.ceil(math.sqrt(n / 2)))))

    def _themes(self, distinct: list[str]) -> dict[str, str]:
        """Each of ``distinct`` (sorted, no duplicates) → its cluster's label."""
        if len(distinct) < 2:
            return dict.fromkeys(distinct, "")
        labels, _ = _model().cluster(distinct, k=self._k(len(distinct)), random_state=42)
        names = label_clusters(distinct, labels)
        return {text: names[label][:64] for text, label in zip(distinct, labels, strict=True)}

    def analyse(self, texts: Sequence[Text]) -> list[Analysis]:
        """Cluster the distinct texts of each source apart (a comment and a call outcome
        are never in one cluster); every text gets its cluster's label."""
        theme_of: dict[tuple[str, str], str] = {}
        for source in sorted({t.source for t in texts}):
            found = self._themes(sorted({t.text for t in texts if t.source == source}))
            theme_of.update(((source, text), label) for text, label in found.items())
        out = []
        for t in texts:
            label = theme_of[(t.source, t.text)]
            out.append(Analysis(themes=(label,) if label else (), sentiment=score(t.text)))
        return out
