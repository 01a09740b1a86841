"""Board panels: the kinds a board shows and the validation of what each carries. Everything
a user writes stays plain data here (text reaches every screen as text); notes carry
Markdown that signaling renders through a real sanitiser before anyone sees it."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

from conference.errors import ConferenceError


class InvalidPanelError(ConferenceError):
    code = "invalid_panel"


PANEL_KINDS = ("kpi", "chart", "table", "map", "document", "image", "note", "video")
MAX_TITLE = 120
MAX_LABEL = 80
MAX_TEXT_CELL = 500
MAX_NOTE = 20_000
MAX_GEOJSON_BYTES = 512 * 1024
FEED_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}(/[a-z0-9][a-z0-9_-]{0,39}){0,3}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _fail(message: str) -> InvalidPanelError:
    return InvalidPanelError(message)


def text(value: object, what: str, max_length: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _fail(f"{what} must be text")
    if len(value) > max_length:
        raise _fail(f"{what} is longer than {max_length} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise _fail(f"{what} contains control characters")
    return value


def number(value: object, what: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"{what} must be a number")
    if not math.isfinite(value):
        raise _fail(f"{what} must be a finite number")
    return float(value)


def _list(value: object, what: str, max_items: int, *, min_items: int = 0) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"{what} must be a list")
    if not min_items <= len(value) <= max_items:
        raise _fail(f"{what} must have {min_items} to {max_items} items")
    return value


def _object(value: object, what: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{what} must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(f"{what} has unknown field(s): {', '.join(unknown[:5])}")
    return value


def _kpi(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "kpi data", {"items"})
    items = []
    for index, raw in enumerate(_list(data.get("items"), "kpi items", 12, min_items=1)):
        item = _object(raw, f"kpi item {index}", {"label", "value", "unit", "change", "target"})
        items.append(
            {
                "label": text(item.get("label"), "a kpi label", MAX_LABEL),
                "value": number(item.get("value"), "a kpi value"),
                "unit": text(item.get("unit"), "a kpi unit", 16, required=False),
                "change": number(item.get("change"), "a kpi change", optional=True),
                "target": number(item.get("target"), "a kpi target", optional=True),
            }
        )
    return {"items": items}


def _chart(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "chart data", {"type", "categories", "series", "unit"})
    chart_type = data.get("type", "line")
    if chart_type not in ("line", "bar"):
        raise _fail('a chart type is "line" or "bar"')
    categories = [
        text(c, "a chart category", MAX_LABEL)
        for c in _list(data.get("categories"), "chart categories", 1000, min_items=1)
    ]
    series = []
    for index, raw in enumerate(_list(data.get("series"), "chart series", 12, min_items=1)):
        item = _object(raw, f"chart series {index}", {"name", "values"})
        values = _list(item.get("values"), "series values", 1000)
        if len(values) != len(categories):
            raise _fail("each series needs one value per category")
        series.append(
            {
                "name": text(item.get("name"), "a series name", MAX_LABEL),
                "values": [number(v, "a series value", optional=True) for v in values],
            }
        )
    return {
        "type": chart_type,
        "categories": categories,
        "series": series,
        "unit": text(data.get("unit"), "a chart unit", 16, required=False),
    }


def _cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, "a table cell")
    return text(value, "a table cell", MAX_TEXT_CELL)


def _table(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "table data", {"columns", "rows"})
    columns = [
        text(c, "a column name", MAX_LABEL)
        for c in _list(data.get("columns"), "table columns", 20, min_items=1)
    ]
    rows = []
    for raw in _list(data.get("rows"), "table rows", 1000):
        cells = _list(raw, "a table row", len(columns), min_items=len(columns))
        rows.append([_cell(cell) for cell in cells])
    return {"columns": columns, "rows": rows}


def _map(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "map data", {"geojson", "valueProperty", "labelProperty", "mode", "unit"})
    geojson = data.get("geojson")
    if not isinstance(geojson, dict) or geojson.get("type") != "FeatureCollection":
        raise _fail("a map carries a GeoJSON FeatureCollection")
    if len(json.dumps(geojson)) > MAX_GEOJSON_BYTES:
        raise _fail(f"the GeoJSON is larger than {MAX_GEOJSON_BYTES} bytes")
    features = _list(geojson.get("features"), "GeoJSON features", 2000, min_items=1)
    for feature in features:
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise _fail("every GeoJSON feature needs a geometry")
        if feature["geometry"].get("type") not in (
            "Point",
            "MultiPoint",
            "Polygon",
            "MultiPolygon",
            "LineString",
            "MultiLineString",
        ):
            raise _fail("unsupported GeoJSON geometry type")
    _check_finite(geojson, "the GeoJSON")
    mode = data.get("mode", "choropleth")
    if mode not in ("choropleth", "points"):
        raise _fail('a map mode is "choropleth" or "points"')
    return {
        "geojson": geojson,
        "mode": mode,
        "valueProperty": text(data.get("valueProperty"), "valueProperty", 40, required=False),
        "labelProperty": text(data.get("labelProperty"), "labelProperty", 40, required=False),
        "unit": text(data.get("unit"), "a map unit", 16, required=False),
    }


def _check_finite(value: object, what: str, depth: int = 0) -> None:
    """NaN and Infinity are not JSON: refuse them anywhere in nested data."""
    if depth > 64:
        raise _fail(f"{what} is nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(f"{what} holds a number that is not finite")
    if isinstance(value, dict):
        for item in value.values():
            _check_finite(item, what, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, what, depth + 1)


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise _fail(f"{what} must be an id of letters, digits, - and _")
    return value


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{what} must be a whole number")
    return value


def _document(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "document data", {"documentId", "page", "pageCount", "name"})
    page_count = _whole(data.get("pageCount", 1), "pageCount")
    page = _whole(data.get("page", 1), "page")
    if page_count < 1:
        raise _fail("a document has at least one page")
    if not 1 <= page <= page_count:
        raise _fail("the page is outside the document")
    return {
        "documentId": _identifier(data.get("documentId"), "documentId"),
        "page": page,
        "pageCount": page_count,
        "name": text(data.get("name"), "a document name", MAX_TITLE, required=False),
    }


def _image(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "image data", {"imageId", "alt"})
    return {
        "imageId": _identifier(data.get("imageId"), "imageId"),
        "alt": text(data.get("alt"), "alt text", MAX_TITLE, required=False),
    }


def _note(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "note data", {"markdown"})
    return {"markdown": text(data.get("markdown"), "a note", MAX_NOTE)}


def _video(data: Mapping[str, Any]) -> dict[str, Any]:
    data = _object(data, "video data", {"participantId"})
    return {"participantId": _identifier(data.get("participantId"), "participantId")}


VALIDATORS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "kpi": _kpi,
    "chart": _chart,
    "table": _table,
    "map": _map,
    "document": _document,
    "image": _image,
    "note": _note,
    "video": _video,
}


def validate_data(kind: object, data: object) -> dict[str, Any]:
    """The panel's data, checked and normalised for its kind; a clear error otherwise."""
    if kind not in VALIDATORS:
        raise _fail(f"unknown panel kind {str(kind)[:20]!r}: one of {', '.join(PANEL_KINDS)}")
    assert isinstance(kind, str)
    if not isinstance(data, dict):
        raise _fail("panel data must be an object")
    return VALIDATORS[kind](data)


def validate_feed(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not FEED_PATTERN.match(value):
        raise _fail("a feed channel is like covid/dobong (lowercase letters, digits, - _ /)")
    return value
