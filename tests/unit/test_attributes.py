"""PlainMapAttribute stores what PynamoDB's untyped MapAttribute stores, and reads it back as
the same plain dict, only faster; values it cannot hold are refused when written."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.attributes import MapAttribute

from chalicelib.persistence.attributes import PlainMapAttribute

SAMPLES: list[dict[str, Any]] = [
    {},
    {"Cookie": "session=abc; theme=dark", "Authorization": "Bearer x"},
    {"0": 0, "1": 16_777_216, "2'": 5, "7": 2**40},
    {"a": 1.5, "b": -3, "flag": True, "off": False},
]


@pytest.mark.parametrize("value", SAMPLES)
def test_stored_exactly_as_an_untyped_map_attribute_stores_it(value: dict[str, Any]) -> None:
    ours, theirs = PlainMapAttribute(), MapAttribute()  # type: ignore[var-annotated]
    assert ours.serialize(value) == theirs.serialize(value)


@pytest.mark.parametrize("value", SAMPLES)
def test_reads_back_what_the_untyped_map_attribute_reads(value: dict[str, Any]) -> None:
    stored = MapAttribute().serialize(value)
    ours = PlainMapAttribute().deserialize(stored)
    theirs = MapAttribute().deserialize(stored)
    assert ours == theirs == value
    assert type(ours) is dict
    assert all(type(ours[k]) is type(value[k]) for k in value)


@pytest.mark.parametrize("bad", [{"nested": {"a": 1}}, {"list": [1, 2]}, {"none": None}, {"bytes": b"x"}])
def test_values_it_cannot_hold_are_refused_when_written(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="plain map"):
        PlainMapAttribute().serialize(bad)


def test_an_element_can_be_addressed_in_expressions() -> None:
    from chalicelib.persistence.models import TaskModel

    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    condition = (TaskModel.lane_steps["3"] < 4) | TaskModel.lane_steps["3"].does_not_exist()
    assert condition.serialize(names, values) == "(#0.#1 < :0 OR attribute_not_exists (#0.#1))"
    assert names == {"lane_steps": "#0", "3": "#1"} and values == {":0": {"N": "4"}}
