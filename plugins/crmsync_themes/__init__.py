"""crmsync_themes: the built-in text analysers (docs/themes.md).

* ``keywords`` (the default): each text goes to the themes of the taxonomy whose keywords
  or phrases it contains (:mod:`crmsync_themes.keywords`), with a VADER sentiment score
  (:mod:`crmsync_themes.sentiment`).
* ``embeddings`` (``pip install crmsync[embeddings]``): texts embedded with the static
  WordLlama model shipped inside the ``wordllama`` wheel (nothing is downloaded at run time),
  clustered with k-means and each cluster labelled by its most distinctive words
  (:mod:`crmsync_themes.embeddings`).
"""

from __future__ import annotations

from crmsync import TextAnalyser, hookimpl
from crmsync_themes.embeddings import EmbeddingAnalyser
from crmsync_themes.keywords import KeywordAnalyser

__all__ = ["crmsync_register_analysers", "KeywordAnalyser", "EmbeddingAnalyser"]


@hookimpl
def crmsync_register_analysers() -> list[type[TextAnalyser]]:
    """The keyword analyser and the (optional) embedding analyser."""
    return [KeywordAnalyser, EmbeddingAnalyser]
