"""Three bots in one room through the real server: each receives both others' audio and
video, and nothing in the process encoded or decoded a frame."""

from __future__ import annotations

import pytest

from media.synthetic import EncodedClip, encode_opus, encode_video
from signaling.bot import BotClient
from tests.conftest import CodecActivity, RunningServer
from tests.media.peers import wait_for


@pytest.fixture(scope="module")
def clips() -> list[EncodedClip]:
    return [encode_video("VP8", frames=60, gop=30), encode_opus(seconds=1.0)]


def _receives_from_all(bot: BotClient, others: list[BotClient], minimum: int) -> bool:
    for other in others:
        pid = other.state.participant["id"]
        video = bot.received_from(pid, "video")
        audio = bot.received_from(pid, "audio")
        if video is None or audio is None or video.frames < minimum or audio.packets < minimum:
            return False
    return True


async def test_three_publishers_receive_each_other_and_nothing_is_transcoded(
    server: RunningServer, clips: list[EncodedClip], codec_activity: CodecActivity
) -> None:
    bots = [BotClient(server.url, "forwarding", name) for name in ("가", "나", "다")]
    try:
        for bot in bots:
            await bot.join(clips)
        for bot in bots:
            others = [b for b in bots if b is not bot]
            await wait_for(
                lambda bot=bot, others=others: _receives_from_all(bot, others, 30),  # type: ignore[misc]
                timeout=20,
            )

        assert codec_activity.encoded == 0
        assert codec_activity.decoded == 0
        for bot in bots:
            for other in (b for b in bots if b is not bot):
                video = bot.received_from(other.state.participant["id"], "video")
                assert video is not None and video.first_packet_was_keyframe
        room = server.service.rooms[next(iter(server.service.rooms))]
        forwarded = sum(
            consumer.stats.packets_sent
            for subscriber in room.router.subscribers.values()
            for consumer in subscriber.consumers
        )
        assert forwarded > 6 * 30
    finally:
        for bot in bots:
            await bot.close()


async def test_a_late_joiner_receives_everyone_already_there(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    early = [BotClient(server.url, "late", name) for name in ("early-1", "early-2")]
    late = BotClient(server.url, "late", "late")
    try:
        for bot in early:
            await bot.join(clips)
        await late.join()
        await wait_for(lambda: _receives_from_all(late, early, 10), timeout=20)
    finally:
        for bot in [*early, late]:
            await bot.close()


async def test_when_a_publisher_leaves_the_others_are_told_and_its_tracks_go(
    server: RunningServer, clips: list[EncodedClip]
) -> None:
    stay = BotClient(server.url, "leaving", "stay")
    go = BotClient(server.url, "leaving", "go")
    try:
        await stay.join(clips)
        await go.join(clips)
        go_id = go.state.participant["id"]
        await wait_for(lambda: _receives_from_all(stay, [go], 5), timeout=20)
        await go.close()
        await wait_for(lambda: go_id not in stay.state.participants, timeout=5)

        def removed() -> list[dict[str, str]]:
            return [data for event, data in stay.state.events if event == "track-removed"]

        await wait_for(lambda: len(removed()) == 2, timeout=5)
        assert {data["participantId"] for data in removed()} == {go_id}
        producers = server.service.rooms["leaving"].router.producers.values()
        assert {p.peer_id for p in producers} == {stay.state.participant["id"]}
    finally:
        await stay.close()
