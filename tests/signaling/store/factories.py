"""Small builders of stored values for the store tests."""

from __future__ import annotations

from signaling.store import ChatMessage, MemberRecord


def member(participant_id: str, joined_at: float, role: str = "participant") -> MemberRecord:
    return MemberRecord(
        participant_id=participant_id,
        identity=f"id-{participant_id}",
        name=f"이름 {participant_id}",
        org_kind="district",
        org_name="도봉구",
        role=role,
        joined_at=joined_at,
        node_id="node-a",
        audio_muted=True,
    )


def chat(number: int, room_id: str = "demo", to: str | None = None) -> ChatMessage:
    return ChatMessage(
        id=f"m{number}",
        room_id=room_id,
        sender_id="p1",
        sender_name="김시장",
        sender_org=("city", "서울특별시"),
        text=f"메시지 {number}",
        sent_at=1000.0 + number,
        to=to,
    )
