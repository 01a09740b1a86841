"""The SFU engine through the real server with bot peers: selective subscription, pause and
resume, last-N following the loudest speaker, speaker events, mute, late keyframes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from media.synthetic import EncodedClip, encode_opus, encode_video
from signaling.bot import BotClient
from tests.conftest import RunningServer
from tests.media.peers import wait_for

LOUD = 20  # -dBov
QUIET = 110


@pytest.fixture(scope="module")
def clips() -> list[EncodedClip]:
    return [encode_video("VP8", frames=60, gop=30), encode_opus(seconds=1.0)]


def consumer_packets(server: RunningServer, room: str, subscriber: BotClient, track: str) -> int:
    context = server.service.rooms[room]
    transport = context.router.subscriber_for(subscriber.state.participant["id"])
    consumer = transport.consumer_for(track)
    return consumer.stats.packets_sent if consumer is not None else -1


async def test_a_subscriber_that_asks_for_one_track_receives_only_that_track(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    publisher = BotClient(server.url, "selective", "pub", auto_subscribe=False)
    viewer = BotClient(server.url, "selective", "viewer", auto_subscribe=False)
    try:
        await publisher.join(clips)
        await viewer.join()
        video = publisher.track_id("video")
        reply = await viewer.request("subscribe", {"trackIds": [video]})
        assert reply["ok"] is True and reply["subscriptions"] == {video: "active"}
        pid = publisher.state.participant["id"]
        await wait_for(lambda: (viewer.received_from(pid, "video") or _empty()).packets > 20)
        assert viewer.received_from(pid, "audio") is None

        reply = await viewer.request("unsubscribe", {"trackIds": [video]})
        assert reply["ok"] is True and reply["subscriptions"] == {}
    finally:
        await viewer.close()
        await publisher.close()


async def test_pausing_stops_a_track_and_resuming_restarts_it_on_a_keyframe(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    publisher = BotClient(server.url, "pause", "pub", auto_subscribe=False)
    viewer = BotClient(server.url, "pause", "viewer")
    try:
        await publisher.join(clips)
        await viewer.join()
        video = publisher.track_id("video")
        await wait_for(lambda: consumer_packets(server, "pause", viewer, video) > 20)

        reply = await viewer.request("pause", {"trackIds": [video]})
        assert reply["subscriptions"][video] == "paused"
        paused_at = consumer_packets(server, "pause", viewer, video)
        await asyncio.sleep(0.5)
        assert consumer_packets(server, "pause", viewer, video) == paused_at

        stream = viewer.received_from(publisher.state.participant["id"], "video")
        assert stream is not None
        keyframes_before = stream.keyframes
        reply = await viewer.request("resume", {"trackIds": [video]})
        assert reply["subscriptions"][video] == "active"
        await wait_for(lambda: consumer_packets(server, "pause", viewer, video) > paused_at + 10)
        assert stream.keyframes > keyframes_before, "a resumed video must restart on a keyframe"
    finally:
        await viewer.close()
        await publisher.close()


async def test_subscribing_to_an_unknown_or_own_track_is_refused(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    publisher = BotClient(server.url, "refuse", "pub")
    try:
        await publisher.join(clips)
        own = publisher.track_id("video")
        reply = await publisher.request("subscribe", {"trackIds": [own]})
        assert reply["error"]["code"] == "own_track"
        reply = await publisher.request("subscribe", {"trackIds": ["nope:0"]})
        assert reply["error"]["code"] == "unknown_track"
        reply = await publisher.request("pause", {"trackIds": "all"})
        assert reply["error"]["code"] == "invalid_field"
        reply = await publisher.request("set-last-n", {"lastN": 1000})
        assert reply["error"]["code"] == "invalid_field"
    finally:
        await publisher.close()


async def test_a_late_subscriber_starts_on_a_keyframe_within_one_second(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    publisher = BotClient(server.url, "late-key", "pub", auto_subscribe=False)
    late = BotClient(server.url, "late-key", "late", auto_subscribe=False)
    try:
        await publisher.join(clips)
        await asyncio.sleep(0.7)  # let the publisher's stream run past its first keyframe
        await late.join()
        started = time.monotonic()
        await late.request("subscribe", {"trackIds": [publisher.track_id("video")]})
        pid = publisher.state.participant["id"]
        await wait_for(lambda: (late.received_from(pid, "video") or _empty()).packets > 0)
        stream = late.received_from(pid, "video")
        assert stream is not None and stream.first_packet_at is not None
        assert stream.first_packet_was_keyframe
        assert stream.first_packet_at - started < 1.0
    finally:
        await late.close()
        await publisher.close()


async def test_last_n_follows_the_loudest_speaker_within_a_second_and_a_half(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    speakers = [
        BotClient(server.url, "last-n", name, auto_subscribe=False) for name in ("a", "b", "c")
    ]
    viewer = BotClient(server.url, "last-n", "viewer", last_n=1)
    try:
        for bot in speakers:
            await bot.join(clips)
            assert bot.publisher is not None
            bot.publisher.audio_level = QUIET
        a, b, _ = speakers
        a.publisher.audio_level = LOUD  # type: ignore[union-attr]
        await viewer.join()
        await wait_for(lambda: viewer.video_source() == a.state.participant["id"], timeout=5)

        a.publisher.audio_level = QUIET  # type: ignore[union-attr]
        b.publisher.audio_level = LOUD  # type: ignore[union-attr]
        changed_at = time.monotonic()
        video_b = b.track_id("video")
        await wait_for(
            lambda: (
                viewer.video_source() == b.state.participant["id"]
                and consumer_packets(server, "last-n", viewer, video_b) > 0
            ),
            timeout=5,
        )
        assert time.monotonic() - changed_at < 1.5
        assert consumer_packets(server, "last-n", viewer, a.track_id("video")) == -1
        dominant = [d for e, d in viewer.state.events if e == "dominant-speaker"]
        assert dominant[-1] == {"participantId": b.state.participant["id"]}
        speaking = [d for e, d in viewer.state.events if e == "speaking"]
        assert {"participantId": b.state.participant["id"], "speaking": True} in speaking
    finally:
        for bot in [viewer, *speakers]:
            await bot.close()


async def test_a_muted_microphone_stops_being_forwarded_and_subscribers_are_told(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    talker = BotClient(server.url, "mute", "talker", auto_subscribe=False)
    listener = BotClient(server.url, "mute", "listener")
    try:
        await talker.join(clips)
        await listener.join()
        audio = talker.track_id("audio")
        await wait_for(lambda: consumer_packets(server, "mute", listener, audio) > 10)
        reply = await talker.request("set-media", {"audioMuted": True})
        assert reply["self"]["audioMuted"] is True
        await wait_for(
            lambda: any(
                e == "participant-updated" and d["audioMuted"] for e, d in listener.state.events
            )
        )
        await asyncio.sleep(0.1)
        muted_at = consumer_packets(server, "mute", listener, audio)
        await asyncio.sleep(0.5)
        assert consumer_packets(server, "mute", listener, audio) == muted_at
        await talker.request("set-media", {"audioMuted": False})
        await wait_for(lambda: consumer_packets(server, "mute", listener, audio) > muted_at + 5)
    finally:
        await listener.close()
        await talker.close()


class _Empty:
    packets = 0


def _empty() -> Any:
    return _Empty()
