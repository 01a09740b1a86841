"""Chat messages: to the room or privately to one person; text only (the page shows links as
links and everything else as text)."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from conference.errors import InvalidMessageError, NotInRoomError
from conference.model import ParticipantId, Permission
from conference.room import Room

MAX_MESSAGE_LENGTH = 2000
_ALLOWED_CONTROLS = {"\n", "\t"}


@dataclass(frozen=True)
class ChatEntry:
    id: str
    sender_id: str
    sender_name: str
    sender_org: tuple[str, str]
    text: str
    sent_at: float
    to: str | None = None

    def visible_to(self, participant_id: str) -> bool:
        return self.to is None or participant_id in (self.to, self.sender_id)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "senderId": self.sender_id,
            "senderName": self.sender_name,
            "senderOrg": {"kind": self.sender_org[0], "name": self.sender_org[1]},
            "text": self.text,
            "sentAt": self.sent_at,
            "to": self.to,
        }


def clean_text(text: str) -> str:
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not cleaned:
        raise InvalidMessageError("the message is empty")
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        raise InvalidMessageError(f"the message is longer than {MAX_MESSAGE_LENGTH} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in cleaned):
        raise InvalidMessageError("the message contains control characters")
    return cleaned


def compose(
    room: Room, sender_id: ParticipantId, text: str, *, to: str | None, now: float
) -> ChatEntry:
    sender = room.require(sender_id, Permission.CHAT)
    if to is not None:
        recipient = room.participants.get(ParticipantId(to))
        if recipient is None or not recipient.is_person:
            raise NotInRoomError("the recipient is not in the meeting")
        if recipient.id == sender.id:
            raise InvalidMessageError("you cannot send a private message to yourself")
    return ChatEntry(
        id=secrets.token_hex(8),
        sender_id=sender.id,
        sender_name=sender.name,
        sender_org=(sender.org.kind.value, sender.org.name),
        text=clean_text(text),
        sent_at=now,
        to=to,
    )
