"""Tests for tagger.config: every field is a flag, invalid values are one-line user errors, and a
saved config reads back, older ones without newer flags included."""

import argparse
import json
from dataclasses import fields

import pytest

from tagger.config import FORMAT_VERSION, Config, _bound_error
from tagger.errors import TaggerError
from tagger.pretrain import Settings


def parse(*argv):
    return Config.from_args(Config.add_arguments(argparse.ArgumentParser()).parse_args(argv))


def test_every_field_is_a_flag_with_the_field_s_default():
    assert parse() == Config()
    config = parse("--resume", "--no-bidirectional", "--hidden-size", "64", "--layers", "2")
    assert config.resume and not config.bidirectional
    assert (config.hidden_size, config.num_layers) == (64, 2)
    assert not Config().resume


@pytest.mark.parametrize("setting,message", [
    ({"epochs": -1}, "--epochs must not be negative, got -1"),
    ({"brown_share": 0.0}, "--brown-share must be in (0, 1], got 0.0"),
    ({"batch_size": -1}, "--batch-size must be at least 1, got -1"),
    ({"patience": -2}, "--patience must not be negative, got -2"),
    ({"dropout": 1.0}, "--dropout must be in [0, 1), got 1.0"),
    ({"lr": 0.0}, "--lr must be positive, got 0.0"),
    ({"out": "."}, "--out must name a model folder, such as models/latest, got '.'"),
    ({"out": ""}, "--out must name a model folder, such as models/latest, got ''"),
    ({"out": "models/.."}, "--out must name a model folder, such as models/latest, got 'models/..'"),
])
def test_invalid_values_are_one_line_errors_naming_the_flag(setting, message):
    with pytest.raises(TaggerError) as info:
        Config(**setting).validate()
    assert str(info.value) == message


@pytest.mark.parametrize("cls", [Config, Settings])
def test_every_number_but_the_seed_has_bounds_and_the_defaults_lie_inside(cls):
    numbers = {f.name for f in fields(cls) if type(f.default) in (int, float)}
    assert numbers - {f.name for f in fields(cls) if f.metadata["bounds"]} == {"seed"}
    cls().validate()


def test_only_the_run_s_own_settings_do_not_change_what_is_learnt():
    assert Config.run_only() == {"device", "threads", "out", "resume", "progress"}
    assert Settings.run_only() == {"threads", "jobs", "out"}


@pytest.mark.parametrize("bounds,value,message", [
    ("[1, inf)", 0, "--x must be at least 1, got 0"), ("[1, inf)", 1, None),
    ("[0, inf)", -1, "--x must not be negative, got -1"),
    ("(0, inf)", 0.0, "--x must be positive, got 0.0"),
    ("(0, 1]", 1.0, None), ("(0, 1]", 1.5, "--x must be in (0, 1], got 1.5"),
    ("[0, 1)", 0.0, None), ("[0, 1)", 1.0, "--x must be in [0, 1), got 1.0"),
])
def test_bounds_read_as_intervals(bounds, value, message):
    assert _bound_error("x", value, bounds) == message


def test_a_saved_config_reads_back_and_an_older_one_gets_new_flags_defaults():
    config = Config(hidden_size=16, resume=True, out="models/x")
    saved = json.loads(config.to_json())
    assert saved["format_version"] == FORMAT_VERSION
    assert Config.from_json(config.to_json()) == config
    del saved["resume"]  # saved before --resume existed
    assert Config.from_json(json.dumps(saved)) == Config(hidden_size=16, out="models/x")
    assert {f.name for f in fields(Config)} == set(json.loads(config.to_json())) - {"format_version"}
