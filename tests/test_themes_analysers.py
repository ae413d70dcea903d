"""Redacted quotes (crmsync.core.pii) and the embedding analyser on the model shipped in the
wordllama wheel (nothing downloaded: the network is refused during the test)."""

from __future__ import annotations

import socket

import pytest

from crmsync import Text
from crmsync.core.pii import redact_quote
from crmsync.core.redact import Redactor
from crmsync.metrics.themes_config import builtin_taxonomy
from crmsync_themes.embeddings import EmbeddingAnalyser, label_clusters


@pytest.mark.parametrize("text, hidden, shown", [
    ("Mail jane.doe@example.com please", "jane.doe@example.com", "[email]"),
    ("Call me on +49 30 1234 5678 today", "1234 5678", "[phone]"),
    ("Call (555) 123-4567", "123-4567", "[phone]"),
    ("our password: hunter2 leaked", "hunter2", "[secret]"),
    ("token=abc123", "abc123", "[secret]"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9xyz", "eyJhbGciOiJIUzI1NiJ9xyz", "[secret]"),
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc here", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
     "[secret]"),
    ("see https://portal.example/reset?code=99", "portal.example", "[link]"),
])
def test_quotes_lose_emails_phones_links_and_secrets(text, hidden, shown):
    out = redact_quote(text)
    assert hidden not in out and shown in out


def test_quotes_keep_ordinary_numbers_and_words():
    text = "Saved us 3 weeks in 2024 on 12 reports"
    assert redact_quote(text) == text


def test_configured_secrets_are_redacted_in_quotes():
    assert redact_quote("the key is s3cr3t-value", Redactor(["s3cr3t-value"])) == \
        "the key is ***"


def test_cluster_labels_are_the_distinctive_words():
    labels = label_clusters(["support slow", "support slow again", "price high", "price"],
                            [0, 0, 1, 1], words=2)
    assert labels == {0: "slow · support", 1: "price · high"}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_embedding_analyser_clusters_with_the_shipped_model(no_network):
    texts = ["The price is too high", "Too expensive for us", "Pricing went up again",
             "Support never answers", "Support tickets take days", "Slow support replies"]
    given = [Text(("crm", "feedback", str(i), "comment"), "feedback.comment", t)
             for i, t in enumerate(texts)]
    out = EmbeddingAnalyser(builtin_taxonomy(), {"clusters": 2}).analyse(given)
    labels = [a.themes[0] for a in out]
    assert len(set(labels)) == 2
    assert labels[3] == labels[4] == labels[5] and "support" in labels[3]
    assert all(-1 <= a.sentiment <= 1 for a in out)


def test_embedding_analyser_keeps_sources_apart(no_network):
    given = [Text(("crm", "feedback", "1", "comment"), "feedback.comment", "Connected"),
             Text(("crm", "activities", "2", "outcome"), "activities.outcome", "Connected"),
             Text(("crm", "activities", "3", "outcome"), "activities.outcome", "No answer")]
    out = EmbeddingAnalyser(builtin_taxonomy()).analyse(given)
    assert out[0].themes == ()           # one distinct comment: nothing to cluster
    assert out[1].themes != out[2].themes
