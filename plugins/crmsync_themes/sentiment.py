"""Sentiment scores from VADER (``vaderSentiment``): a lexicon- and rule-based scorer that
needs no model and no download, from −1 (negative) to 1 (positive).

VADER's lexicon is English. A small sales lexicon is added (:data:`SALES_LEXICON`): words
that VADER does not score but that customers use to complain or praise ("slow", "buggy",
"expensive"), and the commonest German, French and Spanish ones. Words that *name* a topic
rather than a feeling are taken out of it (:data:`TOPIC_WORDS`): VADER rates "support" as
positive, so "support took too long" would otherwise read as praise.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["SALES_LEXICON", "TOPIC_WORDS", "score"]

#: Valences added to VADER's lexicon (its scale: −4 to 4).
SALES_LEXICON = {
    "slow": -1.5, "slower": -1.5, "sluggish": -1.5, "laggy": -1.5, "buggy": -2.0,
    "crash": -2.0, "crashes": -2.0, "outage": -2.0, "outages": -2.0, "downtime": -1.5,
    "unreliable": -2.0, "expensive": -1.2, "overpriced": -2.0, "clunky": -1.5,
    "confusing": -1.5, "cumbersome": -1.5, "smooth": 1.5, "seamless": 1.8, "intuitive": 1.8,
    "langsam": -1.5, "teuer": -1.2, "schlecht": -2.0, "gut": 1.5, "toll": 2.0, "tolles": 2.0,
    "mühsam": -1.5, "hervorragend": 2.5, "kompliziert": -1.5, "zufrieden": 1.8,
    "unzufrieden": -1.8, "lent": -1.5, "lente": -1.5, "mauvais": -2.0, "bien": 1.2,
    "génial": 2.2, "ravi": 2.0, "ravis": 2.0, "réactif": 1.5, "compliqué": -1.5, "déçu": -2.0,
    "déçus": -2.0, "lento": -1.5, "lenta": -1.5, "caro": -1.2, "malo": -2.0, "bueno": 1.5,
    "excelente": 2.5, "gran": 1.5, "tarda": -1.0, "contento": 1.8, "contentos": 1.8,
    "complicado": -1.5,
}

#: Words VADER scores that, in what customers and reps write, name a topic: not scored.
TOPIC_WORDS = ("support", "supports", "supported", "help", "value", "legal", "wish", "free")


@lru_cache(maxsize=1)
def _analyser() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    analyser.lexicon.update(SALES_LEXICON)
    for word in TOPIC_WORDS:
        analyser.lexicon.pop(word, None)
    return analyser


def score(text: str) -> float:
    """The compound score of ``text``: −1 (negative) to 1 (positive), 0 for neutral."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return 0.0
    return float(_analyser().polarity_scores(text)["compound"])
