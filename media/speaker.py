"""Active speaker detection from the RFC 6464 audio level each audio packet carries, without
decoding audio. Levels are smoothed over a window, speaking flags have hysteresis, and the
dominant speaker changes only when someone else is clearly louder for a while."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_SECONDS = 0.5
# RFC 6464 levels are -dBov: 0 is the loudest, 127 silence.
SPEAKING_ON_DBOV = 50  # a window averaging louder than -50 dBov is speech
SPEAKING_OFF_DBOV = 60  # ... and it stops being speech only when quieter than -60 dBov
SWITCH_MARGIN_DB = 6.0  # a challenger must be this much louder than the dominant speaker
SWITCH_HOLD_SECONDS = 0.3  # ... for this long
SILENCE_DBOV = 127


@dataclass
class _Voice:
    levels: deque[tuple[float, int]] = field(default_factory=deque)
    speaking: bool = False

    def loudness(self, now: float) -> float:
        """Mean loudness (127 - level, so higher is louder) over the window; 0 when silent."""
        cutoff = now - WINDOW_SECONDS
        while self.levels and self.levels[0][0] < cutoff:
            self.levels.popleft()
        if not self.levels:
            return 0.0
        return sum(SILENCE_DBOV - level for _, level in self.levels) / len(self.levels)


@dataclass(frozen=True)
class SpeakerChanges:
    dominant: str | None
    dominant_changed: bool
    started: frozenset[str]
    stopped: frozenset[str]

    @property
    def any(self) -> bool:
        return self.dominant_changed or bool(self.started) or bool(self.stopped)


class ActiveSpeakerDetector:
    """Feed it ``observe`` per audio packet and call ``evaluate`` a few times a second."""

    def __init__(self) -> None:
        self._voices: dict[str, _Voice] = {}
        self.dominant: str | None = None
        self._challenger: str | None = None
        self._challenger_since = 0.0

    def observe(self, speaker_id: str, level_dbov: int, now: float) -> None:
        voice = self._voices.get(speaker_id)
        if voice is None:
            voice = self._voices[speaker_id] = _Voice()
        voice.levels.append((now, min(max(level_dbov, 0), SILENCE_DBOV)))

    def forget(self, speaker_id: str) -> None:
        self._voices.pop(speaker_id, None)
        if self.dominant == speaker_id:
            self.dominant = None
        if self._challenger == speaker_id:
            self._challenger = None

    @property
    def speaking(self) -> frozenset[str]:
        return frozenset(sid for sid, voice in self._voices.items() if voice.speaking)

    def evaluate(self, now: float) -> SpeakerChanges:
        on_threshold = SILENCE_DBOV - SPEAKING_ON_DBOV
        off_threshold = SILENCE_DBOV - SPEAKING_OFF_DBOV
        started: set[str] = set()
        stopped: set[str] = set()
        loudness: dict[str, float] = {}
        for speaker_id, voice in self._voices.items():
            value = voice.loudness(now)
            loudness[speaker_id] = value
            if not voice.speaking and value >= on_threshold:
                voice.speaking = True
                started.add(speaker_id)
            elif voice.speaking and value < off_threshold:
                voice.speaking = False
                stopped.add(speaker_id)
        previous = self.dominant
        self._choose_dominant(loudness, now)
        return SpeakerChanges(
            dominant=self.dominant,
            dominant_changed=self.dominant != previous,
            started=frozenset(started),
            stopped=frozenset(stopped),
        )

    def _choose_dominant(self, loudness: dict[str, float], now: float) -> None:
        speaking = {sid: loudness[sid] for sid in self.speaking}
        if not speaking:
            self._challenger = None
            return  # silence keeps the last dominant speaker: layouts should not jump
        loudest = max(speaking, key=lambda sid: speaking[sid])
        current = self.dominant
        if current is None or current not in speaking:
            self.dominant = loudest
            self._challenger = None
            return
        if loudest == current or speaking[loudest] < speaking[current] + SWITCH_MARGIN_DB:
            self._challenger = None
            return
        if self._challenger != loudest:
            self._challenger = loudest
            self._challenger_since = now
        elif now - self._challenger_since >= SWITCH_HOLD_SECONDS:
            self.dominant = loudest
            self._challenger = None
