"""``[[writeback]]`` in crmsync.toml: defaults, ownership of fields, errors naming the file,
the mapping and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from crmsync import ConfigError
from crmsync.api import load_config
from crmsync.writeback.mapping import WRITEBACK

HEAD = '[connections.sf]\ntype = "demo"\n\n'


def load(tmp_path: Path, body: str):
    path = tmp_path / "crmsync.toml"
    path.write_text(HEAD + body)
    return load_config(path)


def test_a_mapping_gets_the_documented_defaults(tmp_path):
    [m] = WRITEBACK.get(load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "sf"\n'
                         'object = "lead"\n'))

    assert (m.field, m.create_field, m.overwrite, m.nulls, m.mode, m.owned) == (
        None, False, "always", "skip", "update_only", True)


def test_a_field_outside_the_prefix_needs_owned_false(tmp_path):
    with pytest.raises(ConfigError, match=r"\[writeback #1\], key 'field': field 'Score__c' "
                                          r"is outside crmsync's own fields"):
        load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "sf"\n'
                       'object = "lead"\nfield = "Score__c"\n')


def test_a_field_people_own_defaults_to_if_empty(tmp_path):
    [m] = WRITEBACK.get(load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "sf"\n'
                         'object = "lead"\nfield = "Score__c"\nowned = false\n'))

    assert (m.owned, m.overwrite) == (False, "if_empty")


@pytest.mark.parametrize("extra, key, message", [
    ('overwrite = "sometimes"', "overwrite", "expected one of 'always', 'if_empty', 'never'"),
    ('nulls = "zero"', "nulls", "expected one of 'skip', 'clear'"),
    ('mode = "upsert"', "mode", "expected one of 'update_only'"),
    ('create_field = "yes"', "create_field", "expected bool, got str"),
    ('fields = "x"', "fields", "unknown key"),
    ('decimals = 12', "decimals", "expected 0 to 10 digits"),
])
def test_a_bad_key_is_named_with_the_file_and_mapping(tmp_path, extra, key, message):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "sf"\nobject = "lead"\n'
                       '\n[[writeback]]\nmetric = "touches"\nconnection = "sf"\n'
                       f'object = "lead"\n{extra}\n')
    assert (err.value.section, err.value.key) == ("writeback #2", key)
    assert message in str(err.value) and str(tmp_path) in str(err.value)


def test_an_unknown_connection_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'connection': no connection named 'hs'"):
        load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "hs"\nobject = "lead"\n')


def test_an_unknown_object_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'object': expected one of 'opportunity'"):
        load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "sf"\nobject = "deal"\n')


def test_a_missing_metric_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"\[writeback #1\], key 'metric': required"):
        load(tmp_path, '[[writeback]]\nconnection = "sf"\nobject = "lead"\n')


def test_a_single_writeback_table_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"write \[\[writeback\]\], not \[writeback\]"):
        load(tmp_path, '[writeback]\nmetric = "touches"\n')


def test_two_mappings_to_one_field_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[writeback #2\], key 'field': .*already written "
                                          r"by \[writeback #1\]"):
        load(tmp_path, '[[writeback]]\nmetric = "touches"\nconnection = "sf"\nobject = "lead"\n'
                       'field = "crmsync_x"\n\n[[writeback]]\nmetric = "response_minutes"\n'
                       'connection = "sf"\nobject = "lead"\nfield = "CRMSYNC_X"\n')


def test_a_bad_period_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"\[writeback #1\], key 'period': expected day"):
        load(tmp_path, '[[writeback]]\nmetric = "win_rate"\nconnection = "sf"\nobject = "user"\n'
                       'period = "fortnight"\n')


def test_the_starter_config_has_a_commented_writeback_example(tmp_path):
    from crmsync.orchestration.config_template import TEMPLATE

    enabled = TEMPLATE.replace("# [connections.demo]", "[connections.demo]").replace(
        '# type = "demo"', 'type = "demo"').replace("# [[writeback]]", "[[writeback]]").replace(
        '# metric = "days', 'metric = "days').replace('# connection = "salesforce"',
                                                       'connection = "demo"').replace(
        '# object = "opportunity"', 'object = "opportunity"')
    path = tmp_path / "crmsync.toml"
    path.write_text(enabled)
    assert [m.metric for m in WRITEBACK.get(load_config(path))] == ["days_in_current_stage"]
