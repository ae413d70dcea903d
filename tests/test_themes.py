"""Themes of texts (docs/themes.md): the keyword analyser and its taxonomy, incremental
analysis into ``text_themes``, and the theme metrics on a hand-checked dataset, on SQLite and
PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import load_records
from crmsync import Analysis, ConfigError, Text, TextAnalyser, hookimpl
from crmsync.core.config import Config
from crmsync.core.internal_tables import text_themes
from crmsync.metrics.themes_config import THEMES, ThemesConfig, builtin_taxonomy, taxonomy_of
from crmsync.orchestration.themes import analyse_texts, themes
from crmsync.plugin.manager import get_plugin_manager
from crmsync.plugin.registry import Registry
from crmsync_themes.keywords import KeywordAnalyser

AS_OF = dt.date(2026, 6, 30)
Q1, Q2 = "2026-01-01", "2026-04-01"


def fb(rid: str, score: float, at: str, comment: str | None, **kw: Any) -> dict[str, Any]:
    return {"remote_id": rid, "type": "nps", "score": score, "responded_at": at,
            "comment": comment, **kw}


def deal(rid: str, status: str, reason: str | None, at: str, owner: str, account: str
         ) -> dict[str, Any]:
    key = "lost_reason" if status == "lost" else "won_reason"
    return {"remote_id": rid, "status": status, key: reason, "closed_at": at,
            "owner_id": owner, "account_id": account}


# U1 (team East) owns account A1 (SMB); U2 (team West) owns A2 (Enterprise).
DATA = {
    "users": [{"remote_id": "U1", "name": "Ann", "team": "East"},
              {"remote_id": "U2", "name": "Bob", "team": "West"}],
    "accounts": [{"remote_id": "A1", "owner_id": "U1", "segment": "SMB"},
                 {"remote_id": "A2", "owner_id": "U2", "segment": "Enterprise"}],
    "contacts": [{"remote_id": "K1", "account_id": "A1", "owner_id": "U1"}],
    "feedback": [
        fb("F1", 10, "2026-01-05T00:00:00", "Great support, very fast", contact_id="K1"),
        fb("F2", 3, "2026-01-06T00:00:00", "Too expensive and support is slow",
           account_id="A2"),
        fb("F3", 8, "2026-02-01T00:00:00", "Der Preis ist zu hoch", account_id="A2"),
        fb("F4", 9, "2026-02-02T00:00:00", "Nothing to add", contact_id="K1"),
        fb("F5", 2, "2026-02-03T00:00:00", None, contact_id="K1"),          # no comment
        fb("F6", 0, "2026-02-04T00:00:00", "support", contact_id="K1", is_deleted=True),
        fb("F7", 10, "2026-04-02T00:00:00", "Support solved it", contact_id="K1"),
    ],
    "opportunities": [
        deal("O1", "lost", "Lost to competitor", "2026-01-10T00:00:00", "U1", "A1"),
        deal("O2", "lost", "Price", "2026-02-10T00:00:00", "U2", "A2"),
        deal("O3", "lost", "Budget", "2026-03-10T00:00:00", "U2", "A2"),
        deal("O4", "lost", None, "2026-03-11T00:00:00", "U2", "A2"),          # no reason
        deal("O5", "won", "Existing relationship", "2026-03-12T00:00:00", "U1", "A1"),
    ],
}


def config_for(store: Any, **settings: Any) -> Config:
    config = Config(store_url=str(store.engine.url.render_as_string(hide_password=False)))
    if settings:
        THEMES.set(config, ThemesConfig(**settings))
    return config


def analysed(store: Any) -> dict[tuple[str, str], set[str | None]]:
    """(remote id, field) → its stored themes ({None} for a text in no theme)."""
    out: dict[tuple[str, str], set[str | None]] = {}
    with store.engine.connect() as conn:
        for r in conn.execute(sa.select(text_themes)):
            out.setdefault((r.remote_id, r.field), set()).add(r.theme)
    assert all(None in themes for themes in out.values())   # one text row each
    return {k: (v - {None}) or {None} for k, v in out.items()}


def source(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in result["sources"] if s["source"] == name)


def theme(entry: dict[str, Any], theme_id: str) -> dict[str, Any]:
    return next(t for t in entry["themes"] if t["theme"] == theme_id)


# -- the keyword analyser ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def keywords() -> KeywordAnalyser:
    return KeywordAnalyser(builtin_taxonomy())


@pytest.mark.parametrize("text, expected", [
    ("Too expensive for our budget", {"price", "budget"}),
    ("Der Preis ist zu hoch, viel zu teuer", {"price"}),
    ("Le support est très lent", {"support", "performance"}),
    ("Nos concurrents sont moins chers", {"competitor"}),
    ("Falta una integración con SAP", {"feature_gap"}),
    ("Lost to competitor", {"competitor"}),
    ("Nothing to add", set()),
])
def test_keyword_analyser_finds_themes_in_several_languages(keywords, text, expected):
    assert set(keywords.analyse_one(text, "feedback.comment").themes) == expected


def test_keywords_match_whole_words_and_stars_match_endings(keywords):
    assert keywords.analyse_one("Our supportive CSM", "feedback.comment").themes == ()
    assert keywords.analyse_one("Discounting hurt", "feedback.comment").themes == ("price",)


def test_a_theme_with_sources_applies_to_those_only(keywords):
    assert keywords.analyse_one("No answer", "activities.outcome").themes == ("unreachable",)
    assert keywords.analyse_one("No answer", "feedback.comment").themes == ()


def test_sentiment_reads_complaints_as_negative_and_topic_words_as_neutral(keywords):
    assert keywords.analyse_one("Support", "feedback.comment").sentiment == 0.0
    assert keywords.analyse_one("Support is slow and buggy",
                                "feedback.comment").sentiment < -0.3
    assert keywords.analyse_one("Great people, love it", "feedback.comment").sentiment > 0.5


def test_matched_names_the_words_that_put_a_text_in_a_theme(keywords):
    a = keywords.analyse_one("Way  too EXPENSIVE", "feedback.comment")
    assert a.matched == {"price": "expensive"}


# -- the taxonomy --------------------------------------------------------------------------------

def test_the_taxonomy_is_extended_replaced_switched_off_and_added_to():
    tax = taxonomy_of(ThemesConfig(taxonomy={
        "price": {"add_keywords": ["prezzo"]},
        "legal_procurement": {"enabled": False},
        "data_residency": {"title": "Data residency", "keywords": ["eu hosting"]},
        "timing": {"keywords": ["later"]}}))
    ids = [t.id for t in tax.themes]
    price = next(t for t in tax.themes if t.id == "price")
    assert "prezzo" in price.keywords and "expensive" in price.keywords
    assert "legal_procurement" not in ids and ids[-1] == "data_residency"
    assert next(t for t in tax.themes if t.id == "timing").keywords == ("later",)


def test_a_new_theme_without_keywords_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"data_residency\.keywords"):
        taxonomy_of(ThemesConfig(taxonomy={"data_residency": {"title": "Data residency"}}))


def test_an_unknown_analyser_is_an_error_naming_the_known_ones(sqlite_store):
    config = config_for(sqlite_store, analyser="magic")
    with pytest.raises(ConfigError, match=r"no text analyser named 'magic'.*keywords"):
        analyse_texts(config, Registry(), store=sqlite_store)


# -- incremental analysis -------------------------------------------------------------------------

def test_first_run_analyses_every_text_and_the_next_none(sqlite_store, registry):
    load_records(sqlite_store, DATA)
    config = config_for(sqlite_store)
    first = analyse_texts(config, registry, store=sqlite_store)
    second = analyse_texts(config, registry, store=sqlite_store)
    # 5 live comments (F5 has none, F6 is deleted), 3 lost reasons, 1 won reason.
    assert (first["texts"], first["analysed"]) == (9, 9)
    assert (second["analysed"], second["unchanged"]) == (0, 9)
    stored = analysed(sqlite_store)
    assert stored[("F2", "comment")] == {"price", "support", "performance"}
    assert stored[("F4", "comment")] == {None}
    assert ("F5", "comment") not in stored and ("F6", "comment") not in stored


def test_an_edited_text_is_analysed_again_and_a_deleted_one_removed(sqlite_store, registry):
    load_records(sqlite_store, DATA)
    config = config_for(sqlite_store)
    analyse_texts(config, registry, store=sqlite_store)
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.text("update feedback set comment = 'Lost to a competitor' "
                             "where remote_id = 'F4'"))
        conn.execute(sa.text("update opportunities set is_deleted = 1 where remote_id = 'O3'"))
    again = analyse_texts(config, registry, store=sqlite_store)
    assert (again["analysed"], again["removed"], again["unchanged"]) == (1, 1, 7)
    stored = analysed(sqlite_store)
    assert stored[("F4", "comment")] == {"competitor"}
    assert ("O3", "lost_reason") not in stored


def test_an_emptied_text_and_a_dropped_source_are_removed(store, registry):
    load_records(store, DATA)
    analyse_texts(config_for(store), registry, store=store)
    with store.engine.begin() as conn:
        conn.execute(sa.text("update feedback set comment = '   ' where remote_id = 'F4'"))
    again = analyse_texts(config_for(store), registry, store=store)
    assert (again["analysed"], again["removed"], again["unchanged"]) == (0, 1, 8)
    assert ("F4", "comment") not in analysed(store)
    comments_only = config_for(store, sources=("feedback.comment",))
    dropped = analyse_texts(comments_only, registry, store=store)
    # the 4 deal reasons leave with their sources; the 4 comments stay as they were
    assert (dropped["removed"], dropped["unchanged"]) == (4, 4)
    assert {field for _, field in analysed(store)} == {"comment"}


def test_a_taxonomy_change_analyses_every_text_again(sqlite_store, registry):
    load_records(sqlite_store, DATA)
    analyse_texts(config_for(sqlite_store), registry, store=sqlite_store)
    changed = config_for(sqlite_store, taxonomy={"price": {"add_keywords": ["hoch"]}})
    again = analyse_texts(changed, registry, store=sqlite_store)
    assert again["analysed"] == 9


# -- theme metrics (SQLite and PostgreSQL) --------------------------------------------------

def test_shares_sentiment_and_nps_per_theme(store, registry):
    load_records(store, DATA)
    result = themes(config_for(store), registry, period="quarter", as_of=AS_OF - dt.timedelta(
        days=100), examples=2, store=store)
    assert result["period_start"] == Q1
    comments = source(result, "feedback.comment")
    # Q1: F1 (10, support), F2 (3, price+support+performance), F3 (8, price), F4 (9, none).
    assert comments["n"] == 4
    support = theme(comments, "support")
    assert (support["count"], support["share"]) == (2, 0.5)
    assert (support["nps"], support["nps_n"]) == (0.0, 2)        # one promoter, one detractor
    price = theme(comments, "price")
    assert (price["count"], price["nps"], price["nps_n"]) == (2, -50.0, 2)
    assert comments["nps"] == 25.0 and comments["nps_n"] == 4    # (2 − 1) ÷ 4
    lost = source(result, "opportunities.lost_reason")
    # O4 has no reason: the share of lost deals is over the 3 with one.
    assert lost["n"] == 3
    assert {t["theme"]: t["share"] for t in lost["themes"]} == {
        "competitor": pytest.approx(1 / 3), "price": pytest.approx(1 / 3),
        "budget": pytest.approx(1 / 3)}


def test_quotes_are_the_latest_texts_of_the_theme(store, registry):
    load_records(store, DATA)
    result = themes(config_for(store), registry, period="quarter", as_of=dt.date(2026, 3, 31),
                    examples=5, store=store)
    quotes = [q["text"] for q in theme(source(result, "feedback.comment"), "support")["quotes"]]
    assert quotes == ["Too expensive and support is slow", "Great support, very fast"]


def test_by_team_and_segment_split_the_population(store, registry):
    load_records(store, DATA)
    by_team = themes(config_for(store), registry, period="quarter", by="team",
                     as_of=dt.date(2026, 3, 31), examples=0, store=store)
    comments = {g["group"]: g for g in by_team["groups"] if g["source"] == "feedback.comment"}
    # F1, F4 → K1 → U1 (East); F2, F3 → A2 → U2 (West).
    assert {k: v["n"] for k, v in comments.items()} == {"East": 2, "West": 2}
    assert theme(comments["West"], "price")["share"] == 1.0
    by_segment = themes(config_for(store), registry, period="quarter", by="segment",
                        as_of=dt.date(2026, 3, 31), examples=0, store=store)
    lost = {g["group"]: g["n"] for g in by_segment["groups"]
            if g["source"] == "opportunities.lost_reason"}
    assert lost == {"SMB": 1, "Enterprise": 2}


def test_a_rep_sees_only_the_texts_attributed_to_them(store, registry):
    load_records(store, DATA)
    result = themes(config_for(store), registry, period="quarter", rep="U1",
                    as_of=dt.date(2026, 3, 31), examples=3, store=store)
    comments = source(result, "feedback.comment")
    assert comments["n"] == 2
    assert [q["text"] for q in theme(comments, "support")["quotes"]] == [
        "Great support, very fast"]


def test_the_latest_period_with_texts_up_to_as_of_is_shown(sqlite_store, registry):
    load_records(sqlite_store, DATA)
    result = themes(config_for(sqlite_store), registry, period="quarter", as_of=AS_OF,
                    store=sqlite_store)
    assert (result["period_start"], result["partial"]) == (Q2, True)  # ends on 2026-07-01
    assert source(result, "feedback.comment")["n"] == 1


# -- the hook ------------------------------------------------------------------------------

class Shouting(TextAnalyser):
    NAME = "shouting"
    title = "Capitals are complaints"

    def analyse(self, texts: list[Text]) -> list[Analysis]:
        return [Analysis(themes=("complaint",) if t.text.isupper() else (), sentiment=-1.0)
                for t in texts]


class ShoutingPlugin:
    @hookimpl
    def crmsync_register_analysers(self) -> list[type[TextAnalyser]]:
        return [Shouting]


@pytest.fixture
def shouting_registry():
    pm = get_plugin_manager()
    pm.register(ShoutingPlugin(), name="shouting")
    yield Registry(pm)
    pm.unregister(name="shouting")


def test_a_plugin_analyser_is_used_when_configured(sqlite_store, shouting_registry):
    load_records(sqlite_store, {"feedback": [fb("F1", 1, "2026-01-05T00:00:00", "AWFUL"),
                                             fb("F2", 9, "2026-01-06T00:00:00", "fine")]})
    config = config_for(sqlite_store, analyser="shouting")
    analyse_texts(config, shouting_registry, store=sqlite_store)
    assert analysed(sqlite_store) == {("F1", "comment"): {"complaint"},
                                      ("F2", "comment"): {None}}


def test_an_analyser_name_registered_twice_is_an_error_naming_both(shouting_registry):
    class Twin:
        @hookimpl
        def crmsync_register_analysers(self) -> list[type[TextAnalyser]]:
            return [Shouting]

    shouting_registry.pm.register(Twin(), name="twin")
    try:
        with pytest.raises(Exception, match=r"shouting.*twin|twin.*shouting"):
            shouting_registry.analysers()
    finally:
        shouting_registry.pm.unregister(name="twin")


def test_crmsync_plugins_lists_the_analysers_of_each_plugin(shouting_registry):
    infos = {i.name: i for i in shouting_registry.plugins()}
    assert infos["shouting"].analysers == ["shouting"]
    assert infos["themes"].analysers == ["embeddings", "keywords"]


def test_a_new_owner_moves_the_text_to_that_rep(sqlite_store, registry):
    load_records(sqlite_store, DATA)
    config = config_for(sqlite_store)
    analyse_texts(config, registry, store=sqlite_store)
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.text("update opportunities set owner_id = 'U2' where remote_id = 'O1'"))
    assert analyse_texts(config, registry, store=sqlite_store)["analysed"] == 1
    result = themes(config, registry, period="quarter", rep="U2", as_of=dt.date(2026, 3, 31),
                    examples=0, store=sqlite_store)
    assert source(result, "opportunities.lost_reason")["n"] == 3


def test_a_clustering_analyser_sees_every_text_again_when_one_changes(sqlite_store, registry):
    load_records(sqlite_store, DATA)
    config = config_for(sqlite_store, analyser="embeddings", options={"clusters": 2},
                        sources=("feedback.comment",))
    assert analyse_texts(config, registry, store=sqlite_store)["analysed"] == 5
    assert analyse_texts(config, registry, store=sqlite_store)["analysed"] == 0
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.text("update feedback set comment = 'Slow' where remote_id = 'F4'"))
    again = analyse_texts(config, registry, store=sqlite_store)
    assert (again["analysed"], again["unchanged"]) == (5, 0)
    assert len({t for themes in analysed(sqlite_store).values() for t in themes}) <= 2
