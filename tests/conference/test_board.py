"""The board's rules: numbered operations (prepare checks without changing anything, apply
changes in order only), who may do what, deterministic resolution of concurrent edits, and
"a snapshot plus the operations after it is the live board"."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conference import ConferenceError, Org, OrgKind, Participant, ParticipantId, Role
from conference.board import (
    LAYOUTS,
    MAX_PANELS,
    OP_TYPES,
    Board,
    BoardFullError,
    BoardOp,
    PanelNotFoundError,
)
from conference.errors import ForbiddenError
from conference.panels import InvalidPanelError

_clock = itertools.count(1000)


def person(pid: str, role: Role = Role.PARTICIPANT) -> Participant:
    return Participant(
        id=ParticipantId(pid),
        identity=f"id-{pid}",
        name=f"이름 {pid}",
        org=Org(OrgKind.DISTRICT, "도봉구"),
        role=role,
        joined_at=0.0,
    )


HOST = person("host", Role.HOST)
MODERATOR = person("mod", Role.MODERATOR)
ALICE = person("alice")
BOB = person("bob")
VIEWER = person("viewer", Role.VIEWER)
DISPLAY = person("wall", Role.DISPLAY)

KPI = {"kind": "kpi", "title": "확진자", "data": {"items": [{"label": "도봉구", "value": 12}]}}
DOCUMENT = {
    "kind": "document",
    "title": "매뉴얼",
    "data": {"documentId": "doc-1", "pageCount": 4},
}
NOTE = {"kind": "note", "title": "메모", "data": {"markdown": "**주의**"}}


def run(
    board: Board, op_type: str, actor: Participant, restricted: bool = False, **payload: Any
) -> BoardOp:
    """Prepare and apply one operation, as the server does."""
    op = board.prepare(op_type, actor, payload, now=float(next(_clock)), push_restricted=restricted)
    board.apply(op)
    return op


def push(board: Board, actor: Participant, panel: dict[str, Any] | None = None) -> str:
    op = run(board, "push", actor, panel=copy.deepcopy(panel or KPI))
    return str(op.payload["panel"]["id"])


# -- numbering ----------------------------------------------------------------------------


def test_every_accepted_operation_gets_the_next_number() -> None:
    board = Board()
    seqs = [run(board, "push", ALICE, panel=copy.deepcopy(KPI)).seq for _ in range(3)]
    seqs.append(run(board, "layout", ALICE, layout=2).seq)
    seqs.append(run(board, "clear", HOST).seq)
    assert seqs == [1, 2, 3, 4, 5]
    assert board.seq == 5


def test_prepare_does_not_change_the_board() -> None:
    board = Board()
    panel_id = push(board, ALICE)
    before = json.dumps(board.to_dict(), sort_keys=True)
    changes: list[tuple[str, dict[str, Any]]] = [
        ("push", {"panel": copy.deepcopy(NOTE)}),
        ("update", {"panelId": panel_id, "title": "새 제목"}),
        ("move", {"panelId": panel_id, "index": 0}),
        ("resize", {"panelId": panel_id, "size": {"w": 2, "h": 2}}),
        ("focus", {"panelId": panel_id}),
        ("layout", {"layout": 6}),
        ("remove", {"panelId": panel_id}),
        ("clear", {}),
    ]
    for op_type, payload in changes:
        op = board.prepare(op_type, HOST, payload, now=5000.0)
        assert op.seq == 2
    assert json.dumps(board.to_dict(), sort_keys=True) == before


def test_a_refused_operation_does_not_take_a_number() -> None:
    board = Board()
    with pytest.raises(InvalidPanelError):
        board.prepare("push", ALICE, {"panel": {"kind": "nope"}}, now=1.0)
    assert board.seq == 0
    assert run(board, "push", ALICE, panel=copy.deepcopy(KPI)).seq == 1


def test_apply_refuses_an_operation_out_of_order() -> None:
    board = Board()
    first = board.prepare("push", ALICE, {"panel": copy.deepcopy(KPI)}, now=1.0)
    second = BoardOp(2, "layout", ALICE.id, ALICE.name, 2.0, {"layout": 2})
    with pytest.raises(ValueError, match="does not follow"):
        board.apply(second)
    board.apply(first)
    with pytest.raises(ValueError, match="does not follow"):
        board.apply(first)  # the same number twice
    board.apply(second)
    assert board.seq == 2 and board.layout == 2


def test_an_unknown_operation_type_is_refused() -> None:
    with pytest.raises(InvalidPanelError, match="unknown board operation"):
        Board().prepare("drop", HOST, {}, now=1.0)


def test_operations_round_trip_through_their_wire_form() -> None:
    board = Board()
    op = board.prepare("push", ALICE, {"panel": copy.deepcopy(KPI)}, now=1.0)
    assert BoardOp.from_dict(json.loads(json.dumps(op.to_dict()))) == op
    assert set(OP_TYPES) == {
        "push", "update", "move", "resize", "remove", "focus", "layout", "clear", "page",
    }  # fmt: skip


# -- operations ---------------------------------------------------------------------------


def test_a_pushed_panel_belongs_to_its_pusher() -> None:
    board = Board()
    panel_id = push(board, ALICE)
    panel = board.panel(panel_id)
    assert (panel.owner_id, panel.owner_name, panel.org) == (
        "alice",
        "이름 alice",
        ("district", "도봉구"),
    )
    assert panel.kind == "kpi" and panel.title == "확진자" and panel.size == {"w": 1, "h": 1}


def test_update_move_resize_page_focus_layout_and_remove() -> None:
    board = Board()
    first, second, doc = push(board, ALICE), push(board, ALICE, NOTE), push(board, ALICE, DOCUMENT)
    run(board, "update", ALICE, panelId=first, title="새 제목", feed="covid/dobong")
    assert board.panel(first).title == "새 제목" and board.panel(first).feed == "covid/dobong"
    run(board, "move", ALICE, panelId=doc, index=0)
    assert list(board.panels) == [doc, first, second]
    run(board, "move", ALICE, panelId=doc, index=99)  # clamped to the end
    assert list(board.panels) == [first, second, doc]
    run(board, "resize", ALICE, panelId=second, size={"w": 2, "h": 1})
    assert board.panel(second).size == {"w": 2, "h": 1}
    run(board, "page", ALICE, panelId=doc, page=3)
    assert board.panel(doc).data["page"] == 3
    run(board, "focus", ALICE, panelId=doc)
    assert board.focus == doc
    run(board, "focus", ALICE, panelId=None)
    assert board.focus is None
    for layout in LAYOUTS:
        run(board, "layout", ALICE, layout=layout)
        assert board.layout == layout
    run(board, "remove", ALICE, panelId=first)
    assert list(board.panels) == [second, doc]


def test_focus_is_cleared_when_the_focused_panel_is_removed() -> None:
    board = Board()
    kept, focused = push(board, ALICE), push(board, BOB)
    run(board, "focus", ALICE, panelId=focused)
    run(board, "remove", BOB, panelId=focused)
    assert board.focus is None
    run(board, "focus", ALICE, panelId=kept)
    run(board, "clear", MODERATOR)
    assert board.focus is None and board.panels == {}


def test_removing_another_panel_keeps_the_focus() -> None:
    board = Board()
    focused, other = push(board, ALICE), push(board, ALICE)
    run(board, "focus", ALICE, panelId=focused)
    run(board, "remove", ALICE, panelId=other)
    assert board.focus == focused


@pytest.mark.parametrize(
    ("op_type", "payload", "error", "message"),
    [
        ("update", {"panelId": "nope", "title": "x"}, PanelNotFoundError, "no such panel"),
        ("remove", {"panelId": 5}, PanelNotFoundError, "no such panel"),
        ("focus", {"panelId": "nope"}, PanelNotFoundError, "no such panel"),
        ("update", {"panelId": "P"}, InvalidPanelError, "give a title, data or feed"),
        ("update", {"panelId": "P", "owner": "me"}, InvalidPanelError, "unknown field(s): owner"),
        ("update", {"panelId": "P", "data": {"items": []}}, InvalidPanelError, "kpi items"),
        ("update", {"panelId": "P", "title": "a\x00"}, InvalidPanelError, "control characters"),
        ("update", {"panelId": "P", "feed": "Bad Feed"}, InvalidPanelError, "feed channel"),
        ("move", {"panelId": "P", "index": "1"}, InvalidPanelError, "index must be an integer"),
        ("move", {"panelId": "P", "index": True}, InvalidPanelError, "index must be an integer"),
        ("resize", {"panelId": "P", "size": {"w": 3, "h": 1}}, InvalidPanelError, "a size is"),
        ("resize", {"panelId": "P", "size": {"w": 1}}, InvalidPanelError, "a size is"),
        ("page", {"panelId": "P", "page": 2}, InvalidPanelError, "only a document has pages"),
        ("layout", {"layout": 3}, InvalidPanelError, "layout must be one of 1, 2, 4, 6"),
        ("layout", {"layout": True}, InvalidPanelError, "layout must be one of"),
        ("push", {}, InvalidPanelError, "give the panel to push"),
        ("push", {"panel": {**KPI, "owner": "x"}}, InvalidPanelError, "unknown panel field(s)"),
        ("push", {"panel": {**KPI, "kind": "iframe"}}, InvalidPanelError, "unknown panel kind"),
        ("push", {"panel": {**KPI, "title": 7}}, InvalidPanelError, "the title must be text"),
        ("push", {"panel": {**KPI, "title": "a\x1b"}}, InvalidPanelError, "control characters"),
        ("push", {"panel": {**KPI, "size": {"w": 0, "h": 1}}}, InvalidPanelError, "a size is"),
        ("push", {"panel": {**KPI, "data": "12"}}, InvalidPanelError, "must be an object"),
    ],
)
def test_malformed_operations_are_refused_clearly_and_change_nothing(
    op_type: str, payload: dict[str, Any], error: type[ConferenceError], message: str
) -> None:
    board = Board()
    panel_id = push(board, ALICE)
    payload = {k: (panel_id if v == "P" else v) for k, v in payload.items()}
    before = json.dumps(board.to_dict(), sort_keys=True)
    with pytest.raises(error) as raised:
        board.prepare(op_type, ALICE, payload, now=1.0)
    assert message in raised.value.message, raised.value.message
    assert json.dumps(board.to_dict(), sort_keys=True) == before


def test_a_page_outside_the_document_is_refused() -> None:
    board = Board()
    doc = push(board, ALICE, DOCUMENT)
    for page in (0, 5, "2"):
        with pytest.raises(InvalidPanelError):
            board.prepare("page", ALICE, {"panelId": doc, "page": page}, now=1.0)


def test_the_board_holds_a_bounded_number_of_panels() -> None:
    board = Board()
    for _ in range(MAX_PANELS):
        push(board, ALICE)
    with pytest.raises(BoardFullError):
        board.prepare("push", HOST, {"panel": copy.deepcopy(KPI)}, now=1.0)


def test_a_note_carries_the_html_its_renderer_made() -> None:
    board = Board()
    op = board.prepare(
        "push",
        ALICE,
        {"panel": copy.deepcopy(NOTE)},
        now=1.0,
        render_note=lambda md: f"<p>{md}</p>",
    )
    assert op.payload["panel"]["data"] == {"markdown": "**주의**", "html": "<p>**주의**</p>"}
    board.apply(op)
    update = board.prepare(
        "update",
        ALICE,
        {"panelId": op.payload["panel"]["id"], "data": {"markdown": "새"}},
        now=2.0,
        render_note=lambda md: "rendered",
    )
    assert update.payload["data"] == {"markdown": "새", "html": "rendered"}


# -- permissions --------------------------------------------------------------------------


@pytest.mark.parametrize("actor", [VIEWER, DISPLAY])
def test_who_may_not_push_cannot_change_the_board_at_all(actor: Participant) -> None:
    board = Board()
    panel_id = push(board, ALICE)
    refused: list[tuple[str, dict[str, Any]]] = [
        ("push", {"panel": copy.deepcopy(KPI)}),
        ("focus", {"panelId": panel_id}),
        ("layout", {"layout": 1}),
        ("remove", {"panelId": panel_id}),
    ]
    for op_type, payload in refused:
        with pytest.raises(ForbiddenError):
            board.prepare(op_type, actor, payload, now=1.0)


@pytest.mark.parametrize("actor", [ALICE, MODERATOR, HOST])
def test_participants_and_moderators_push(actor: Participant) -> None:
    board = Board()
    push(board, actor)
    assert len(board.panels) == 1


def _changes(panel_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("update", {"panelId": panel_id, "title": "바뀐 제목"}),
        ("move", {"panelId": panel_id, "index": 0}),
        ("resize", {"panelId": panel_id, "size": {"w": 2, "h": 2}}),
        ("page", {"panelId": panel_id, "page": 2}),
        ("remove", {"panelId": panel_id}),
    ]


@pytest.mark.parametrize("index", range(5))
def test_another_participant_cannot_change_a_panel(index: int) -> None:
    board = Board()
    panel_id = push(board, ALICE, DOCUMENT)
    op_type, payload = _changes(panel_id)[index]
    with pytest.raises(ForbiddenError, match="owner or a moderator"):
        board.prepare(op_type, BOB, payload, now=1.0)


@pytest.mark.parametrize("actor", [ALICE, MODERATOR, HOST])
@pytest.mark.parametrize("index", range(5))
def test_the_owner_and_moderators_change_a_panel(actor: Participant, index: int) -> None:
    board = Board()
    push(board, BOB)  # something to move past
    panel_id = push(board, ALICE, DOCUMENT)
    op_type, payload = _changes(panel_id)[index]
    run(board, op_type, actor, **payload)
    assert board.seq == 3


def test_only_moderators_clear_the_board() -> None:
    board = Board()
    push(board, ALICE)
    with pytest.raises(ForbiddenError, match="only moderators clear"):
        board.prepare("clear", ALICE, {}, now=1.0)
    run(board, "clear", MODERATOR)
    assert board.panels == {}
    push(board, ALICE)
    run(board, "clear", HOST)
    assert board.panels == {}


def test_when_push_is_restricted_only_moderators_push() -> None:
    board = Board()
    with pytest.raises(ForbiddenError, match="only moderators push"):
        board.prepare("push", ALICE, {"panel": copy.deepcopy(KPI)}, now=1.0, push_restricted=True)
    op = run(board, "push", MODERATOR, restricted=True, panel=copy.deepcopy(KPI))
    # the restriction is about pushing: an owner still edits the panels they own
    own = push(board, ALICE)
    run(board, "update", ALICE, restricted=True, panelId=own, title="내 패널")
    assert op.seq == 1 and board.seq == 3


# -- concurrent edits ---------------------------------------------------------------------


def test_two_updates_from_the_same_state_resolve_in_server_order() -> None:
    """Alice and a moderator edit the same panel at once. The server takes one first; the
    other, prepared against the same board, no longer follows and is checked again: the
    later one in the server's order wins, and every screen applying the same ops agrees."""
    board = Board()
    panel_id = push(board, ALICE)
    screen = Board.from_dict(json.loads(json.dumps(board.to_dict())))
    from_alice = board.prepare("update", ALICE, {"panelId": panel_id, "title": "앨리스"}, now=10.0)
    from_mod = board.prepare(
        "update", MODERATOR, {"panelId": panel_id, "title": "사회자"}, now=10.0
    )
    assert from_alice.seq == from_mod.seq == 2
    board.apply(from_alice)
    with pytest.raises(ValueError, match="does not follow"):
        board.apply(from_mod)  # the stale one cannot slip in
    again = board.prepare("update", MODERATOR, {"panelId": panel_id, "title": "사회자"}, now=10.0)
    board.apply(again)
    assert board.panel(panel_id).title == "사회자" and board.seq == 3
    for op in (from_alice, again):
        screen.apply(BoardOp.from_dict(json.loads(json.dumps(op.to_dict()))))
    assert screen.to_dict() == board.to_dict()


def test_the_same_operations_give_the_same_board_everywhere() -> None:
    board = Board()
    ops = [
        run(board, "push", ALICE, panel=copy.deepcopy(KPI)),
        run(board, "push", BOB, panel=copy.deepcopy(DOCUMENT)),
    ]
    first, doc = (str(op.payload["panel"]["id"]) for op in ops)
    ops += [
        run(board, "update", ALICE, panelId=first, title="A"),
        run(board, "update", MODERATOR, panelId=first, title="B"),
        run(board, "move", BOB, panelId=doc, index=0),
        run(board, "page", HOST, panelId=doc, page=4),
        run(board, "focus", ALICE, panelId=doc),
    ]
    screens = [Board() for _ in range(3)]
    for screen in screens:
        for op in ops:
            screen.apply(BoardOp.from_dict(json.loads(json.dumps(op.to_dict()))))
    assert all(screen.to_dict() == board.to_dict() for screen in screens)
    assert board.panel(first).title == "B"


def test_a_snapshot_round_trips() -> None:
    board = Board()
    push(board, ALICE)
    doc = push(board, BOB, DOCUMENT)
    run(board, "focus", BOB, panelId=doc)
    run(board, "layout", BOB, layout=2)
    copy_ = Board.from_dict(json.loads(json.dumps(board.to_dict())))
    assert copy_.to_dict() == board.to_dict()
    assert (copy_.seq, copy_.layout, copy_.focus) == (4, 2, doc)


# -- snapshot plus replay equals the live board -------------------------------------------

ACTORS = [HOST, MODERATOR, ALICE, BOB, VIEWER]
PANELS = [KPI, DOCUMENT, NOTE]


@st.composite
def operation(draw: st.DrawFn, board: Board) -> tuple[str, Participant, dict[str, Any]]:
    actor = draw(st.sampled_from(ACTORS))
    op_type = draw(st.sampled_from(OP_TYPES))
    panel_ids = list(board.panels) or ["missing"]
    panel_id = draw(st.sampled_from(panel_ids))
    payload: dict[str, Any]
    if op_type == "push":
        panel = copy.deepcopy(draw(st.sampled_from(PANELS)))
        panel["size"] = {"w": draw(st.sampled_from([1, 2])), "h": draw(st.sampled_from([1, 2]))}
        payload = {"panel": panel}
    elif op_type == "update":
        payload = {"panelId": panel_id, "title": draw(st.text(max_size=10))}
    elif op_type == "move":
        payload = {"panelId": panel_id, "index": draw(st.integers(-2, 8))}
    elif op_type == "resize":
        payload = {"panelId": panel_id, "size": {"w": draw(st.sampled_from([1, 2])), "h": 1}}
    elif op_type == "focus":
        payload = {"panelId": draw(st.sampled_from([None, panel_id]))}
    elif op_type == "layout":
        payload = {"layout": draw(st.sampled_from([*LAYOUTS, 3]))}
    elif op_type == "page":
        payload = {"panelId": panel_id, "page": draw(st.integers(0, 5))}
    else:  # remove, clear
        payload = {"panelId": panel_id}
        if op_type == "clear":
            payload = {}
    return op_type, actor, payload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), steps=st.integers(0, 40), restricted=st.booleans())
def test_a_snapshot_plus_the_operations_after_it_is_the_live_board(
    data: st.DataObject, steps: int, restricted: bool
) -> None:
    live = Board()
    accepted: list[dict[str, Any]] = []  # as stored: wire form
    snapshots = [json.loads(json.dumps(live.to_dict()))]  # snapshots[k]: board after k ops
    for step in range(steps):
        op_type, actor, payload = data.draw(operation(live))
        try:
            op = live.prepare(op_type, actor, payload, now=float(step), push_restricted=restricted)
        except ConferenceError:
            continue  # refused: no number taken, nothing changes
        live.apply(op)
        accepted.append(json.loads(json.dumps(op.to_dict())))
        snapshots.append(json.loads(json.dumps(live.to_dict())))
    assert [op["seq"] for op in accepted] == list(range(1, len(accepted) + 1))
    assert live.seq == len(accepted)
    assert live.focus is None or live.focus in live.panels

    k = data.draw(st.integers(0, len(accepted)), label="snapshot at")
    replayed = Board.from_dict(snapshots[k])
    assert replayed.seq == k
    for raw in accepted[k:]:
        replayed.apply(BoardOp.from_dict(raw))
    assert replayed.to_dict() == live.to_dict()
