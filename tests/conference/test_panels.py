"""Panel kinds: a valid example of each is accepted and normalised; malformed data (unknown
kind, wrong types, NaN, too many items, mismatched series, GeoJSON that is not a
FeatureCollection, control characters) is refused with an InvalidPanelError that says why."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from conference.panels import (
    MAX_TITLE,
    PANEL_KINDS,
    InvalidPanelError,
    text,
    validate_data,
    validate_feed,
)

DOBONG: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "도봉구", "cases": 12},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[127.0, 37.6], [127.1, 37.6], [127.1, 37.7], [127.0, 37.6]]],
            },
        }
    ],
}

VALID: dict[str, dict[str, Any]] = {
    "kpi": {"items": [{"label": "확진자", "value": 12, "unit": "명", "change": -2}]},
    "chart": {
        "type": "bar",
        "categories": ["월", "화", "수"],
        "series": [{"name": "도봉구", "values": [1, None, 3.5]}],
        "unit": "명",
    },
    "table": {"columns": ["구", "인원"], "rows": [["도봉구", 12], ["노원구", None]]},
    "map": {"geojson": DOBONG, "valueProperty": "cases", "labelProperty": "name"},
    "document": {"documentId": "doc-1", "page": 2, "pageCount": 5, "name": "대응 매뉴얼.pdf"},
    "image": {"imageId": "img_1", "alt": "현장 사진"},
    "note": {"markdown": "# 상황\n- 중랑천 수위 **주의**"},
    "video": {"participantId": "p-123"},
}


def test_every_kind_has_a_valid_example() -> None:
    assert set(VALID) == set(PANEL_KINDS)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_panel_of_each_kind_is_accepted(kind: str) -> None:
    data = copy.deepcopy(VALID[kind])
    checked = validate_data(kind, data)
    assert isinstance(checked, dict) and checked
    # validating the normalised data again changes nothing: it is already clean
    assert validate_data(kind, copy.deepcopy(checked)) == checked


def test_validation_normalises_numbers_and_fills_defaults() -> None:
    kpi = validate_data("kpi", {"items": [{"label": "대피소", "value": 3}]})
    assert kpi == {
        "items": [{"label": "대피소", "value": 3.0, "unit": "", "change": None, "target": None}]
    }
    chart = validate_data("chart", {"categories": ["a"], "series": [{"name": "s", "values": [1]}]})
    assert chart["type"] == "line" and chart["series"][0]["values"] == [1.0]
    document = validate_data("document", {"documentId": "d"})
    assert (document["page"], document["pageCount"]) == (1, 1)
    assert validate_data("map", {"geojson": DOBONG})["mode"] == "choropleth"


def test_user_text_stays_plain_text() -> None:
    """Markup in titles, cells and labels is kept as text: the screens render it as text."""
    table = validate_data("table", {"columns": ["<b>구</b>"], "rows": [["<script>x</script>"]]})
    assert table["rows"][0][0] == "<script>x</script>"
    assert text("<img src=x onerror=alert(1)>", "the title", MAX_TITLE).startswith("<img")


NAN = math.nan

MALFORMED: list[tuple[str, object, str]] = [
    # unknown kind, wrong container
    ("iframe", {"src": "https://evil.example"}, "unknown panel kind"),
    ("kpi", ["not", "an", "object"], "must be an object"),
    ("kpi", None, "must be an object"),
    # kpi
    ("kpi", {"items": []}, "kpi items must have 1 to 12 items"),
    ("kpi", {"items": [{"label": "x", "value": 1}] * 13}, "kpi items must have 1 to 12 items"),
    ("kpi", {"items": [{"label": "x", "value": "12"}]}, "a kpi value must be a number"),
    ("kpi", {"items": [{"label": "x", "value": True}]}, "a kpi value must be a number"),
    ("kpi", {"items": [{"label": "x", "value": NAN}]}, "finite number"),
    ("kpi", {"items": [{"label": "x", "value": math.inf}]}, "finite number"),
    ("kpi", {"items": [{"label": 5, "value": 1}]}, "a kpi label must be text"),
    ("kpi", {"items": [{"label": "x", "value": 1, "color": "red"}]}, "unknown field(s): color"),
    ("kpi", {"items": [{"label": "x", "value": 1}], "extra": 1}, "unknown field(s): extra"),
    # chart
    (
        "chart",
        {"categories": ["a", "b"], "series": [{"name": "s", "values": [1]}]},
        "one value per category",
    ),
    ("chart", {"type": "pie", "categories": ["a"], "series": []}, '"line" or "bar"'),
    ("chart", {"categories": [], "series": [{"name": "s", "values": []}]}, "chart categories"),
    (
        "chart",
        {"categories": ["a"], "series": [{"name": "s", "values": [NAN]}]},
        "finite number",
    ),
    (
        "chart",
        {"categories": ["a"], "series": [{"name": "s", "values": [1]}] * 13},
        "chart series must have 1 to 12 items",
    ),
    ("chart", {"categories": "a,b", "series": []}, "chart categories must be a list"),
    # table
    ("table", {"columns": ["a", "b"], "rows": [["only one"]]}, "a table row must have 2 to 2"),
    ("table", {"columns": [], "rows": []}, "table columns must have 1 to 20 items"),
    ("table", {"columns": ["a"], "rows": [[{"x": 1}]]}, "a table cell must be text"),
    ("table", {"columns": ["a"], "rows": [[NAN]]}, "finite number"),
    ("table", {"columns": ["a"], "rows": [["x"]] * 1001}, "table rows must have 0 to 1000"),
    ("table", {"columns": ["a"], "rows": [["x" * 501]]}, "longer than 500 characters"),
    # map
    ("map", {"geojson": {"type": "Feature", "geometry": {}}}, "GeoJSON FeatureCollection"),
    ("map", {"geojson": "FeatureCollection"}, "GeoJSON FeatureCollection"),
    ("map", {"geojson": {"type": "FeatureCollection", "features": []}}, "GeoJSON features"),
    (
        "map",
        {"geojson": {"type": "FeatureCollection", "features": [{"type": "Feature"}]}},
        "needs a geometry",
    ),
    (
        "map",
        {
            "geojson": {
                "type": "FeatureCollection",
                "features": [{"geometry": {"type": "Circle", "coordinates": [0, 0]}}],
            }
        },
        "unsupported GeoJSON geometry type",
    ),
    ("map", {"geojson": DOBONG, "mode": "heatmap"}, '"choropleth" or "points"'),
    # document, image, video
    ("document", {"documentId": "../etc/passwd"}, "documentId must be an id"),
    ("document", {"documentId": "d", "page": 9, "pageCount": 3}, "outside the document"),
    ("document", {"documentId": "d", "page": "1"}, "page must be a whole number"),
    ("image", {"imageId": "x/y"}, "imageId must be an id"),
    ("image", {"imageId": "ok", "src": "javascript:alert(1)"}, "unknown field(s): src"),
    ("video", {"participantId": ""}, "participantId must be an id"),
    # note
    ("note", {"markdown": 42}, "a note must be text"),
    ("note", {"markdown": "x" * 20_001}, "longer than 20000 characters"),
    ("note", {"markdown": "bell\x07"}, "control characters"),
]


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    MALFORMED,
    ids=[f"{kind}-{index}" for index, (kind, _, _) in enumerate(MALFORMED)],
)
def test_malformed_panel_data_is_refused_with_a_clear_message(
    kind: str, data: object, message: str
) -> None:
    with pytest.raises(InvalidPanelError) as raised:
        validate_data(kind, data)
    assert raised.value.code == "invalid_panel"
    assert message in raised.value.message, raised.value.message


def test_an_unknown_kind_names_the_kinds_there_are() -> None:
    with pytest.raises(InvalidPanelError) as raised:
        validate_data("<script>", {})
    for kind in PANEL_KINDS:
        assert kind in raised.value.message


def test_a_geojson_larger_than_the_limit_is_refused() -> None:
    big = copy.deepcopy(DOBONG)
    big["features"][0]["properties"]["blob"] = "x" * (512 * 1024)
    with pytest.raises(InvalidPanelError, match="larger than"):
        validate_data("map", {"geojson": big})


@pytest.mark.parametrize("title", ["a\x00b", "line\x1b[31m", "carriage\rreturn"])
def test_control_characters_in_text_are_refused(title: str) -> None:
    with pytest.raises(InvalidPanelError, match="control characters"):
        text(title, "the title", MAX_TITLE)


@pytest.mark.parametrize("title", ["delete\x7f", "next line\x85", "csi\x9b31m"])
def test_del_and_c1_control_characters_in_text_are_refused(title: str) -> None:
    with pytest.raises(InvalidPanelError, match="control characters"):
        text(title, "the title", MAX_TITLE)


def test_newlines_and_tabs_are_allowed_in_text() -> None:
    assert text("첫 줄\n\t둘째 줄", "a note", 100) == "첫 줄\n\t둘째 줄"


@pytest.mark.parametrize("title", [None, 12, ["t"], "x" * (MAX_TITLE + 1)])
def test_a_title_must_be_bounded_text(title: object) -> None:
    with pytest.raises(InvalidPanelError, match="the title"):
        text(title, "the title", MAX_TITLE)


@pytest.mark.parametrize(
    "channel", ["covid/dobong", "river/jungnangcheon", "a", "a/b/c/d", "seoul_1/x-2"]
)
def test_valid_feed_channels(channel: str) -> None:
    assert validate_feed(channel) == channel


def test_no_feed_is_none() -> None:
    assert validate_feed(None) is None and validate_feed("") is None


@pytest.mark.parametrize(
    "channel",
    ["Covid/Dobong", "covid//dobong", "/covid", "covid/", "a/b/c/d/e", "코로나", 5, "x" * 41],
)
def test_invalid_feed_channels_are_refused(channel: object) -> None:
    with pytest.raises(InvalidPanelError, match="feed channel"):
        validate_feed(channel)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_geojson_with_a_non_finite_number_is_refused(bad: float) -> None:
    geojson = copy.deepcopy(DOBONG)
    geojson["features"][0]["geometry"]["coordinates"][0][1][0] = bad
    with pytest.raises(InvalidPanelError, match="finite"):
        validate_data("map", {"geojson": geojson})


@pytest.mark.parametrize(
    "data",
    [
        {"documentId": "d", "pageCount": -3},
        {"documentId": "d", "pageCount": 4, "page": 2.5},
        {"documentId": "d", "pageCount": 2.5},
    ],
)
def test_a_document_page_count_and_page_are_positive_integers(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidPanelError):
        validate_data("document", data)
