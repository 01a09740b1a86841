"""Plausible, changing data for the ready-made dashboards' feed channels: `openroom
demo-feed` posts it to a server over HTTP like any authorised system would; `openroom serve
--demo` publishes it in process so that `make run` shows a living board."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from signaling.dashboards import DOBONG_DONGS, wave

logger = logging.getLogger(__name__)

Publish = Callable[[str, list[dict[str, Any]]], Awaitable[object]]

KEYWORDS = ("폭우", "침수", "방역", "일자리", "창동 개발", "주차", "어르신 돌봄", "청년")
REQUEST_TOPICS = (
    ("안전", "횡단보도 신호 시간이 너무 짧아요"),
    ("환경", "중랑천 산책로 쓰레기 수거 요청"),
    ("교통", "마을버스 배차 간격을 줄여 주세요"),
    ("복지", "경로당 냉방기 고장 수리 요청"),
    ("안전", "골목길 가로등이 꺼져 있어요"),
    ("교육", "공공도서관 운영 시간 연장 건의"),
)
STATUSES = ("접수", "검토 중", "처리 중", "완료")


class DemoData:
    """Values for each channel at time ``t``: smooth waves plus a little noise."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._requests: list[list[object]] = []
        self._alerts: list[list[object]] = []

    def _noise(self, scale: float) -> float:
        return self._rng.uniform(-scale, scale)

    def values(self, t: float) -> dict[str, dict[str, Any]]:
        clock = time.strftime("%H:%M:%S", time.localtime(t))
        river_a = round(wave(t, 300, 1.2, 4.8) + self._noise(0.05), 2)
        river_b = round(wave(t, 300, 1.0, 4.2, 0.6) + self._noise(0.05), 2)
        new_cases = int(wave(t, 120, 20, 90) + self._noise(5))
        data: dict[str, dict[str, Any]] = {
            "covid/dobong": {
                "items": [
                    {
                        "label": "신규 확진",
                        "value": new_cases,
                        "unit": "명",
                        "change": round(self._noise(12), 1),
                    },
                    {"label": "재택 치료", "value": int(wave(t, 240, 300, 520)), "unit": "명"},
                    {
                        "label": "백신 3차",
                        "value": round(wave(t, 3600, 61, 64), 1),
                        "unit": "%",
                        "target": 70,
                    },
                ]
            },
            "covid/dobong-trend": {
                "category": clock,
                "values": {"도봉구": new_cases, "서울 평균": int(wave(t, 120, 30, 70, 1.0))},
            },
            "covid/dobong-dongs": {
                "values": {
                    name: int(wave(t, 90 + 7 * index, 0, 12, index))
                    for index, (name, _, _) in enumerate(DOBONG_DONGS)
                }
            },
            "indicators/dobong": {
                "items": [
                    {
                        "label": "고용률",
                        "value": round(wave(t, 600, 59.5, 61.0), 1),
                        "unit": "%",
                        "target": 62,
                    },
                    {
                        "label": "재정자립도",
                        "value": round(wave(t, 900, 21.0, 22.5), 1),
                        "unit": "%",
                    },
                    {
                        "label": "민원 처리",
                        "value": round(wave(t, 200, 92, 98), 1),
                        "unit": "%",
                        "target": 95,
                    },
                ]
            },
            "pledges/dobong": {
                "categories": ["안전", "복지", "교육", "환경", "경제"],
                "series": [
                    {
                        "name": "이행률",
                        "values": [round(wave(t, 1200, 60, 90, i), 1) for i in range(5)],
                    }
                ],
            },
            "press/keywords": {
                "categories": list(KEYWORDS),
                "series": [
                    {
                        "name": "언급",
                        "values": [
                            int(wave(t, 180 + 20 * i, 2, 40, i)) for i in range(len(KEYWORDS))
                        ],
                    }
                ],
            },
            "press/volume": {
                "category": clock,
                "values": {
                    "긍정": int(wave(t, 150, 5, 25)),
                    "부정": int(wave(t, 150, 3, 18, 2.0)),
                    "중립": int(wave(t, 150, 10, 30, 1.0)),
                },
            },
            "population/dobong": {
                "items": [
                    {
                        "label": "현재 생활인구",
                        "value": int(wave(t, 86400, 290_000, 335_000)),
                        "unit": "명",
                    },
                    {"label": "전일 대비", "value": round(self._noise(2.5), 1), "unit": "%"},
                ]
            },
            "traffic/dobong": {
                "category": clock,
                "values": {
                    "도봉로": round(wave(t, 240, 14, 38), 1),
                    "방학로": round(wave(t, 240, 18, 42, 1.3), 1),
                    "노해로": round(wave(t, 240, 16, 40, 2.1), 1),
                },
            },
            "river/jungnangcheon": {
                "category": clock,
                "values": {"창동교": river_a, "월계1교": river_b},
            },
            "river/jungnangcheon-status": {
                "items": [
                    {"label": "창동교 수위", "value": river_a, "unit": "m", "target": 4.5},
                    {"label": "홍수주의보 기준", "value": 4.5, "unit": "m"},
                ]
            },
        }
        if self._rng.random() < 0.15 or not self._requests:
            category, text = self._rng.choice(REQUEST_TOPICS)
            dong = self._rng.choice(DOBONG_DONGS)[0]
            self._requests.insert(0, [clock, category, text, dong, "접수"])
            del self._requests[12:]
        for row in self._requests[1:]:
            if self._rng.random() < 0.05 and row[4] != STATUSES[-1]:
                row[4] = STATUSES[STATUSES.index(str(row[4])) + 1]
        data["requests/mayor"] = {"rows": [list(row) for row in self._requests]}
        if river_a > 4.0 and (not self._alerts or self._alerts[0][1] != "홍수"):
            self._alerts.insert(
                0, [clock, "홍수", "중랑천 창동교", f"수위 {river_a} m: 하천 산책로 통제"]
            )
        elif self._rng.random() < 0.03:
            self._alerts.insert(0, [clock, "기상", "도봉구 전역", "호우 예비특보"])
        del self._alerts[10:]
        data["disaster/alerts"] = {"rows": [list(row) for row in self._alerts]}
        return data


async def run(publish: Publish, interval: float = 1.0, duration: float | None = None) -> int:
    """Publish every channel's next value each ``interval`` seconds; returns rounds sent."""
    demo = DemoData()
    started = time.monotonic()
    rounds = 0
    while duration is None or time.monotonic() - started < duration:
        for channel, value in demo.values(time.time()).items():
            try:
                await publish(channel, [value])
            except Exception as exc:  # a demo keeps going: the server may be restarting
                logger.warning("demo feed %s: %s", channel, exc)
        rounds += 1
        await asyncio.sleep(interval)
    return rounds


def http_publisher(session: aiohttp.ClientSession, base_url: str, feed_key: str) -> Publish:
    async def publish(channel: str, values: list[dict[str, Any]]) -> object:
        async with session.post(
            f"{base_url.rstrip('/')}/api/feeds/{channel}",
            json={"values": values},
            headers={"Authorization": f"Bearer {feed_key}"},
        ) as response:
            if response.status >= 400:
                raise RuntimeError(f"{response.status} {await response.text()}")
            return await response.json()

    return publish
