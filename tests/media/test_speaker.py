"""Active speaker detection from audio levels: smoothed, with hysteresis, never flapping."""

from __future__ import annotations

from media.speaker import ActiveSpeakerDetector


def feed(
    detector: ActiveSpeakerDetector, levels: dict[str, int], start: float, seconds: float
) -> float:
    """Packets every 20 ms per speaker, evaluated every 100 ms; returns the end time."""
    now = start
    step = 0.02
    ticks = 0
    while now < start + seconds:
        for speaker, level in levels.items():
            detector.observe(speaker, level, now)
        now += step
        ticks += 1
        if ticks % 5 == 0:
            detector.evaluate(now)
    return now


def test_someone_speaking_louder_than_minus_50_dbov_is_flagged_as_speaking() -> None:
    detector = ActiveSpeakerDetector()
    feed(detector, {"a": 30, "b": 100}, 0.0, 1.0)
    assert detector.speaking == {"a"}
    assert detector.dominant == "a"


def test_the_speaking_flag_does_not_drop_in_the_hysteresis_band() -> None:
    detector = ActiveSpeakerDetector()
    end = feed(detector, {"a": 40}, 0.0, 1.0)
    end = feed(detector, {"a": 55}, end, 1.0)  # between the on (50) and off (60) thresholds
    assert detector.speaking == {"a"}
    feed(detector, {"a": 90}, end, 1.0)
    assert detector.speaking == frozenset()


def test_two_speakers_of_nearly_equal_loudness_do_not_flap() -> None:
    detector = ActiveSpeakerDetector()
    end = feed(detector, {"a": 30, "b": 100}, 0.0, 1.0)
    assert detector.dominant == "a"
    changes = 0
    now = end
    for second in range(10):
        # b is a little louder, then a little quieter: under the switch margin
        level_b = 27 if second % 2 else 33
        for _ in range(50):
            detector.observe("a", 30, now)
            detector.observe("b", level_b, now)
            now += 0.02
            if int(now * 50) % 5 == 0:
                changes += detector.evaluate(now).dominant_changed
    assert detector.dominant == "a"
    assert changes == 0


def test_a_clearly_louder_speaker_takes_over_after_the_hold_time() -> None:
    detector = ActiveSpeakerDetector()
    end = feed(detector, {"a": 40, "b": 100}, 0.0, 1.0)
    end = feed(detector, {"a": 45, "b": 20}, end, 0.3)
    assert detector.dominant == "a", "one short burst is not enough"
    feed(detector, {"a": 45, "b": 20}, end, 1.0)
    assert detector.dominant == "b"


def test_silence_keeps_the_last_dominant_speaker() -> None:
    detector = ActiveSpeakerDetector()
    end = feed(detector, {"a": 30}, 0.0, 1.0)
    feed(detector, {"a": 120}, end, 2.0)
    assert detector.speaking == frozenset()
    assert detector.dominant == "a"


def test_a_speaker_who_stops_speaking_gives_way_to_one_who_speaks() -> None:
    detector = ActiveSpeakerDetector()
    end = feed(detector, {"a": 30, "b": 110}, 0.0, 1.0)
    feed(detector, {"a": 110, "b": 45}, end, 1.0)
    assert detector.dominant == "b"


def test_a_forgotten_speaker_is_no_longer_dominant() -> None:
    detector = ActiveSpeakerDetector()
    feed(detector, {"a": 30}, 0.0, 1.0)
    detector.forget("a")
    assert detector.dominant is None
    assert detector.speaking == frozenset()
