"""Redis key names, all under one namespace (as LiveKit's redisstore.go keeps its keys).

Layout (``{room}`` is a room id):

- ``openroom:rooms``               set of room ids
- ``openroom:room:{room}``         hash: setting name (camelCase) -> JSON value
- ``openroom:room:{room}:chat``    list of JSON chat messages, oldest first, bounded
- ``openroom:room:{room}:roster``  hash: participant id -> JSON member record
- ``openroom:room:{room}:hands``   sorted set: participant id -> time the hand went up
- ``openroom:room:{room}:lobby``   hash: participant id -> JSON member record
- ``openroom:room:{room}:bans``    sorted set: identity -> time the ban ends
"""

from __future__ import annotations

PREFIX = "openroom:"
ROOMS_KEY = PREFIX + "rooms"
ROOM_KEY = PREFIX + "room:{room}"
CHAT_KEY = ROOM_KEY + ":chat"
ROSTER_KEY = ROOM_KEY + ":roster"
HANDS_KEY = ROOM_KEY + ":hands"
LOBBY_KEY = ROOM_KEY + ":lobby"
BANS_KEY = ROOM_KEY + ":bans"

# What a meeting leaves behind when it ends; settings, chat and bans outlive it.
LIVE_STATE_KEYS = (ROSTER_KEY, HANDS_KEY, LOBBY_KEY)
# Everything stored under one room.
ROOM_KEYS = (ROOM_KEY, CHAT_KEY, ROSTER_KEY, HANDS_KEY, LOBBY_KEY, BANS_KEY)


def room_key(template: str, room_id: str) -> str:
    """``room_key(CHAT_KEY, "demo")`` -> ``openroom:room:demo:chat``."""
    return template.format(room=room_id)
