"""Ready-made dashboards for the district office: panel sets bound to data feed channels,
offered to every organisation in the panel library. `openroom demo-feed` fills the channels
with plausible, changing data.

How a feed value changes a bound panel (the browser applies it, see web/static/js/board):
- kpi:   {"items": [{label, value, unit?, change?, target?}, ...]} replaces the tiles;
- chart: {"category": "10:05", "values": {"series name": number}} appends a point (the chart
         keeps its newest 60), or {"categories": [...], "series": [...]} replaces it all;
- table: {"rows": [[...], ...]} replaces the rows;
- map:   {"values": {"feature name": number}} recolours the features.
"""

from __future__ import annotations

import math
from typing import Any

SEOUL = ("city", "서울특별시")

# Dobong-gu's administrative dongs, drawn as a schematic grid near their real places
# (a real boundary file can replace it: a map panel takes any GeoJSON FeatureCollection).
DOBONG_DONGS = (
    ("도봉1동", 0, 0), ("도봉2동", 1, 0), ("방학1동", 0, 1), ("방학2동", 1, 1),
    ("방학3동", 2, 1), ("창1동", 0, 2), ("창2동", 1, 2), ("창3동", 2, 2),
    ("창4동", 0, 3), ("창5동", 1, 3), ("쌍문1동", 2, 3), ("쌍문2동", 0, 4),
    ("쌍문3동", 1, 4), ("쌍문4동", 2, 4),
)  # fmt: skip


def dobong_geojson() -> dict[str, Any]:
    west, north, cell_w, cell_h = 127.018, 37.700, 0.014, 0.0135
    features = []
    for name, column, row in DOBONG_DONGS:
        x0, y0 = west + column * cell_w, north - row * cell_h
        ring = [[x0, y0], [x0 + cell_w, y0], [x0 + cell_w, y0 - cell_h], [x0, y0 - cell_h]]
        features.append(
            {
                "type": "Feature",
                "properties": {"name": name, "value": 0},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _kpi(title: str, feed: str, items: list[tuple[str, float, str]]) -> dict[str, Any]:
    return {
        "kind": "kpi",
        "title": title,
        "feed": feed,
        "data": {"items": [{"label": k, "value": v, "unit": u} for k, v, u in items]},
    }


def _line(
    title: str, feed: str, series: list[str], unit: str, kind: str = "line"
) -> dict[str, Any]:
    return {
        "kind": "chart",
        "title": title,
        "feed": feed,
        "data": {
            "type": kind,
            "categories": ["-"],
            "series": [{"name": name, "values": [None]} for name in series],
            "unit": unit,
        },
    }


DASHBOARDS: list[dict[str, Any]] = [
    {
        "id": "covid-19",
        "name": "코로나19 현황 (도봉구)",
        "panels": [
            _kpi(
                "코로나19 오늘",
                "covid/dobong",
                [("신규 확진", 0, "명"), ("재택 치료", 0, "명"), ("백신 3차", 0, "%")],
            ),
            _line("신규 확진 추이", "covid/dobong-trend", ["도봉구", "서울 평균"], "명"),
            {
                "kind": "map",
                "title": "동별 확진자 (개략도)",
                "feed": "covid/dobong-dongs",
                "size": {"w": 1, "h": 2},
                "data": {
                    "geojson": dobong_geojson(),
                    "mode": "choropleth",
                    "valueProperty": "value",
                    "labelProperty": "name",
                    "unit": "명",
                },
            },
        ],
    },
    {
        "id": "district-indicators",
        "name": "구정 지표와 공약 이행",
        "panels": [
            _kpi(
                "구정 주요 지표",
                "indicators/dobong",
                [("고용률", 0, "%"), ("재정자립도", 0, "%"), ("민원 처리", 0, "%")],
            ),
            {
                "kind": "chart",
                "title": "공약 이행률",
                "feed": "pledges/dobong",
                "data": {
                    "type": "bar",
                    "categories": ["안전", "복지", "교육", "환경", "경제"],
                    "series": [{"name": "이행률", "values": [0, 0, 0, 0, 0]}],
                    "unit": "%",
                },
            },
        ],
    },
    {
        "id": "requests-to-the-mayor",
        "name": "구청장에게 바란다",
        "panels": [
            {
                "kind": "table",
                "title": "주민 요청 (최근)",
                "feed": "requests/mayor",
                "size": {"w": 2, "h": 1},
                "data": {"columns": ["접수", "분야", "내용", "동", "상태"], "rows": []},
            }
        ],
    },
    {
        "id": "press-trends",
        "name": "언론 동향",
        "panels": [
            {
                "kind": "chart",
                "title": "키워드 언급 수",
                "feed": "press/keywords",
                "data": {
                    "type": "bar",
                    "categories": ["-"],
                    "series": [{"name": "언급", "values": [0]}],
                    "unit": "건",
                },
            },
            _line("보도량 추이", "press/volume", ["긍정", "부정", "중립"], "건"),
        ],
    },
    {
        "id": "population-traffic",
        "name": "생활인구와 교통",
        "panels": [
            _kpi(
                "생활인구", "population/dobong", [("현재 생활인구", 0, "명"), ("전일 대비", 0, "%")]
            ),
            _line("주요 도로 평균 속도", "traffic/dobong", ["도봉로", "방학로", "노해로"], "km/h"),
        ],
    },
    {
        "id": "river-disaster",
        "name": "하천 수위와 재난 알림",
        "panels": [
            _line("중랑천 수위", "river/jungnangcheon", ["창동교", "월계1교"], "m"),
            _kpi(
                "수위 경보 단계",
                "river/jungnangcheon-status",
                [("창동교 수위", 0, "m"), ("홍수주의보 기준", 4.5, "m")],
            ),
            {
                "kind": "table",
                "title": "재난 알림",
                "feed": "disaster/alerts",
                "data": {"columns": ["시각", "종류", "지역", "내용"], "rows": []},
            },
        ],
    },
]


def builtin_library() -> list[dict[str, Any]]:
    """The dashboards as panel-library items: Seoul City's, shared with everyone."""
    return [
        {
            "id": f"builtin-{dashboard['id']}",
            "name": dashboard["name"],
            "org": {"kind": SEOUL[0], "name": SEOUL[1]},
            "ownerName": "서울특별시",
            "sharedWith": ["*"],
            "builtin": True,
            "createdAt": 0,
            "panels": dashboard["panels"],
        }
        for dashboard in DASHBOARDS
    ]


def wave(t: float, period: float, low: float, high: float, phase: float = 0.0) -> float:
    """A smooth value between ``low`` and ``high`` (for demo data)."""
    return low + (high - low) * (0.5 + 0.5 * math.sin(2 * math.pi * t / period + phase))
