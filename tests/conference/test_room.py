"""The Room aggregate: admission, capacity, permissions, tracks; and the model's values."""

from __future__ import annotations

import pytest

from conference import (
    GUEST_ORG,
    ForbiddenError,
    GuestsNotAllowedError,
    InvalidNameError,
    JoinClaims,
    NotInRoomError,
    Org,
    OrgKind,
    Participant,
    ParticipantId,
    Permission,
    Role,
    Room,
    RoomFullError,
    RoomId,
    RoomPolicy,
    TrackId,
    WrongRoomError,
    clean_name,
)
from conference.model import ROLE_PERMISSIONS

ROOM = RoomId("council")
NOW = 1_700_000_000.0


def _claims(
    *,
    role: Role = Role.PARTICIPANT,
    identity: str = "user-1",
    room: str = ROOM,
    name: str = "홍길동",
) -> JoinClaims:
    return JoinClaims(
        room=room,
        identity=identity,
        name=name,
        org=Org(OrgKind.DISTRICT, "도봉구"),
        role=role,
        issued_at=int(NOW),
        expires_at=int(NOW) + 3600,
    )


def _room(capacity: int = 50, allow_guests: bool = True) -> Room:
    return Room(ROOM, RoomPolicy(capacity=capacity, allow_guests=allow_guests))


def _join(room: Room, role: Role = Role.PARTICIPANT, identity: str = "user-1") -> Participant:
    return room.admit(claims=_claims(role=role, identity=identity), guest_name=None, now=NOW)


def test_a_guest_is_admitted_as_a_participant_of_the_guest_org() -> None:
    room = _room()

    guest = room.admit(claims=None, guest_name="  방문자  ", now=NOW)

    assert guest.role is Role.PARTICIPANT
    assert guest.org == GUEST_ORG
    assert guest.name == "방문자"
    assert guest.identity.startswith("guest-")
    assert room.get(guest.id) is guest


def test_a_token_holder_is_admitted_with_the_claims_of_the_token() -> None:
    participant = _join(_room(), role=Role.MODERATOR, identity="user-7")

    assert participant.identity == "user-7"
    assert participant.name == "홍길동"
    assert participant.org == Org(OrgKind.DISTRICT, "도봉구")
    assert participant.role is Role.MODERATOR
    assert participant.joined_at == NOW


def test_a_guest_is_refused_when_the_room_does_not_allow_guests() -> None:
    room = _room(allow_guests=False)

    with pytest.raises(GuestsNotAllowedError):
        room.admit(claims=None, guest_name="방문자", now=NOW)
    assert room.participants == {}


def test_a_guest_without_a_name_is_refused() -> None:
    with pytest.raises(InvalidNameError):
        _room().admit(claims=None, guest_name=None, now=NOW)


def test_a_token_for_another_room_is_refused_with_wrong_room() -> None:
    room = _room()

    with pytest.raises(WrongRoomError):
        room.admit(claims=_claims(room="another-room"), guest_name=None, now=NOW)
    assert room.participants == {}


def test_a_full_room_refuses_one_more_person() -> None:
    room = _room(capacity=2)
    _join(room, identity="a")
    _join(room, identity="b")

    with pytest.raises(RoomFullError):
        _join(room, identity="c")
    assert len(room.people) == 2


def test_a_display_joins_a_full_room_and_is_neither_counted_nor_listed() -> None:
    room = _room(capacity=1)
    person = _join(room, identity="a")

    display = _join(room, role=Role.DISPLAY, identity="wall")

    assert display.id in room.participants
    assert room.people == [person]
    assert [entry["id"] for entry in room.roster()] == [person.id]


def test_the_same_identity_joining_twice_replaces_the_first_join() -> None:
    room = _room()
    first = _join(room, identity="user-1")

    second = _join(room, identity="user-1")

    assert first.id != second.id
    assert list(room.participants) == [second.id]
    assert [entry["id"] for entry in room.roster()] == [second.id]


def test_a_rejoin_into_a_full_room_takes_the_place_of_the_first_join() -> None:
    room = _room(capacity=1)
    _join(room, identity="user-1")

    again = _join(room, identity="user-1")

    assert room.people == [again]


def test_a_rejoin_refused_for_capacity_leaves_the_first_join_in_place() -> None:
    room = _room(capacity=1)
    _join(room, identity="someone-else")
    wall = _join(room, role=Role.DISPLAY, identity="user-1")

    with pytest.raises(RoomFullError):
        _join(room, role=Role.PARTICIPANT, identity="user-1")
    assert room.find_identity("user-1") is wall


def test_a_viewer_may_not_add_a_track() -> None:
    room = _room()
    viewer = _join(room, role=Role.VIEWER)

    with pytest.raises(ForbiddenError):
        room.add_track(viewer.id, TrackId("t1"), "video", "camera")
    assert viewer.tracks == {}


def test_a_participant_may_add_a_track() -> None:
    room = _room()
    participant = _join(room)

    track = room.add_track(participant.id, TrackId("t1"), "video", "camera")

    assert track.participant_id == participant.id
    assert track.muted is False
    assert participant.tracks == {TrackId("t1"): track}
    assert room.tracks() == [track]


def test_a_track_added_while_muted_starts_muted() -> None:
    room = _room()
    participant = _join(room)
    room.set_media_state(participant.id, audio_muted=True, video_muted=None)

    track = room.add_track(participant.id, TrackId("mic"), "audio", "microphone")

    assert track.muted is True


def test_set_media_state_mutes_camera_and_microphone_but_not_the_screen() -> None:
    room = _room()
    participant = _join(room)
    camera = room.add_track(participant.id, TrackId("cam"), "video", "camera")
    microphone = room.add_track(participant.id, TrackId("mic"), "audio", "microphone")
    screen = room.add_track(participant.id, TrackId("scr"), "video", "screen")

    room.set_media_state(participant.id, audio_muted=True, video_muted=True)

    assert (participant.audio_muted, participant.video_muted) == (True, True)
    assert (camera.muted, microphone.muted, screen.muted) == (True, True, False)


def test_set_media_state_leaves_a_state_given_as_none_unchanged() -> None:
    room = _room()
    participant = _join(room)
    camera = room.add_track(participant.id, TrackId("cam"), "video", "camera")
    microphone = room.add_track(participant.id, TrackId("mic"), "audio", "microphone")
    room.set_media_state(participant.id, audio_muted=True, video_muted=True)

    room.set_media_state(participant.id, audio_muted=False, video_muted=None)

    assert (microphone.muted, camera.muted) == (False, True)


def test_remove_track_returns_the_track_and_forgets_it() -> None:
    room = _room()
    participant = _join(room)
    track = room.add_track(participant.id, TrackId("t1"), "video", "camera")

    assert room.remove_track(TrackId("t1")) is track
    assert participant.tracks == {}
    assert room.remove_track(TrackId("t1")) is None


def test_leave_returns_the_participant_and_removes_it() -> None:
    room = _room()
    participant = _join(room)

    assert room.leave(participant.id) is participant
    assert room.participants == {}
    assert room.leave(participant.id) is None


def test_a_participant_who_left_cannot_change_its_media_state() -> None:
    room = _room()
    participant = _join(room)
    room.leave(participant.id)

    with pytest.raises(NotInRoomError):
        room.set_media_state(participant.id, audio_muted=True, video_muted=None)


def test_clean_name_trims_and_normalises_to_nfc() -> None:
    decomposed = "\u1112\u1169\u11bc\u1100\u1175\u11af\u1103\u1169\u11bc"  # 홍길동 as jamo

    assert clean_name(f"  {decomposed}  ") == "홍길동"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 65, "bad\x00name", "line\nbreak", "zero\u200bwidth"],
    ids=["empty", "blank", "too-long", "nul", "newline", "format-char"],
)
def test_clean_name_refuses_empty_overlong_and_control_characters(text: str) -> None:
    with pytest.raises(InvalidNameError):
        clean_name(text)


def test_clean_name_accepts_exactly_64_characters() -> None:
    assert clean_name("가" * 64) == "가" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("district:도봉구", Org(OrgKind.DISTRICT, "도봉구")),
        ("agency:도봉소방서", Org(OrgKind.AGENCY, "도봉소방서")),
        (" City :서울특별시", Org(OrgKind.CITY, "서울특별시")),
        ("city", Org(OrgKind.CITY, "")),
        ("guest:", GUEST_ORG),
    ],
)
def test_org_parse_reads_kind_and_name(text: str, expected: Org) -> None:
    assert Org.parse(text) == expected


@pytest.mark.parametrize("text", ["ministry:행정안전부", "", ":도봉구"])
def test_org_parse_refuses_an_unknown_kind(text: str) -> None:
    with pytest.raises(InvalidNameError):
        Org.parse(text)


def test_org_parse_refuses_a_name_with_control_characters() -> None:
    with pytest.raises(InvalidNameError):
        Org.parse("district:도봉\x00구")


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_exactly_the_permissions_of_its_table_row(role: Role) -> None:
    participant = Participant(
        id=ParticipantId("p"), identity="i", name="n", org=GUEST_ORG, role=role, joined_at=NOW
    )

    granted = {permission for permission in Permission if participant.can(permission)}

    assert granted == set(ROLE_PERMISSIONS[role])


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        (Role.VIEWER, Permission.PUBLISH, False),
        (Role.VIEWER, Permission.SUBSCRIBE, True),
        (Role.DISPLAY, Permission.CHAT, False),
        (Role.DISPLAY, Permission.DISPLAY, True),
        (Role.HOST, Permission.MODERATE, True),
        (Role.HOST, Permission.DISPLAY, False),
        (Role.PARTICIPANT, Permission.MODERATE, False),
        (Role.MODERATOR, Permission.RECORD, False),
    ],
)
def test_spot_checks_of_the_permission_table(
    role: Role, permission: Permission, allowed: bool
) -> None:
    assert (permission in ROLE_PERMISSIONS[role]) is allowed
