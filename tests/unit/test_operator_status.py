"""What `election status` and `election top` make of one read of the election: the
leader from the head of the queue, members that say Leader against it marked stale, the
exit code, the JSON document and the table."""

from __future__ import annotations

import json

from rich.console import Console

from election.control import Handover, Pause
from election.observe.cluster import ClusterView, LeaderNode
from election.observe.members import build_rows, judge, member_document, parse_member
from election.observe.top import Snapshot, render
from election.operate.status import exit_code, leads, render_status, status_document

LEADER = LeaderNode(replica="r1", token=4294967310, session=0xA1, created=1000.0)


def doc(
    replica: str, state: str, since: float = 1000.0, token: int | None = None, **kw: int
) -> bytes:
    return member_document(
        replica=replica, state=state, since=since, token=token, metrics=None,
        host="vm", pid=kw.get("pid", 7), version="0.1.0", priority=kw.get("priority", 1),
    )  # fmt: skip


def view(**changes: object) -> ClusterView:
    rows = build_rows(
        {
            "r1": doc("r1", "Leader", since=1004.0, token=LEADER.token, priority=3),
            "r2": doc("r2", "Attempter", priority=2),
            "r0": doc("r0", "Attempter", priority=0),
        }
    )
    members = judge(
        rows,
        {"r1": 0xA1, "r2": 0xA2, "r0": 0xA0},
        holder="r1",
        holder_session=0xA1,
        holder_token=LEADER.token,
    )
    fields: dict[str, object] = {"leader": LEADER, "members": tuple(members), "wall": 1010.0}
    fields.update(changes)
    return ClusterView(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- stale members


def test_a_member_saying_leader_of_another_session_is_stale() -> None:
    rows = [
        parse_member("r9", doc("r9", "Leader", token=5)),
        parse_member("r1", doc("r1", "Leader", token=8)),
    ]
    judged = judge(rows, {"r9": 0x99, "r1": 0xA1}, holder="r1", holder_session=0xA1, holder_token=8)
    by_name = {row.name: row for row in judged}
    assert by_name["r1"].leader and not by_name["r1"].stale and by_name["r1"].session == 0xA1
    assert not by_name["r9"].leader
    assert by_name["r9"].stale == "says Leader, but another session leads the queue (r1)"
    assert [row.name for row in judged] == ["r1", "r9"]  # the leader first


def test_a_member_saying_leader_with_no_election_node_is_stale() -> None:
    [row] = judge([parse_member("r1", doc("r1", "Leader", token=8))], {"r1": 0xA1},
                  holder=None, holder_session=None, holder_token=None)  # fmt: skip
    assert row.stale == "says Leader, but no replica leads the queue"
    assert not row.leader


def test_a_member_saying_leader_of_an_old_token_is_stale() -> None:
    [row] = judge([parse_member("r1", doc("r1", "Leader", token=8))], {"r1": 0xA1},
                  holder="r1", holder_session=0xA1, holder_token=12)  # fmt: skip
    assert row.stale == "says Leader of token 8, the queue's head's is 12"


def test_members_in_other_states_are_never_stale() -> None:
    rows = [parse_member("r2", doc("r2", "Attempter")), parse_member("x", b"garbage")]
    judged = judge(rows, {"r2": 1}, holder=None, holder_session=None, holder_token=None)
    assert [row.stale for row in judged] == ["", ""]


# ---------------------------------------------------------------- the exit code


def test_status_exits_0_while_a_replica_leads_and_1_otherwise() -> None:
    assert leads(view()) and exit_code(view()) == 0
    assert exit_code(view(leader=None)) == 1
    assert exit_code(view(members=(), leader=None)) == 1  # all down
    # Paused: a leader still holding the node is ending its term; nobody leads.
    assert exit_code(view(paused=True, pause=Pause(by="ops@vm", at=1005.0))) == 1


# ---------------------------------------------------------------- --json


def test_the_document_has_the_contract_s_fields() -> None:
    document = status_document(view(), "/election/leader", now=1010.0)
    json.dumps(document)  # plain JSON
    assert document["leader"] == {
        "replica": "r1",
        "token": 4294967310,
        "since": 1004.0,  # from the leader's member node
        "session": "0xa1",
    }
    assert document["paused"] is False and document["pause"] is None
    assert document["handover"] is None
    assert [(m["replica"], m["state"], m["priority"]) for m in document["members"]] == [
        ("r1", "Leader", 3),
        ("r0", "Attempter", 0),
        ("r2", "Attempter", 2),
    ]
    first = document["members"][0]
    assert first["in_state"] == 6.0 and first["leader"] is True and first["stale"] is False


def test_stale_is_a_boolean_and_its_reason_beside_it() -> None:
    # `"stale": null` stood where a boolean belongs.
    stale = judge([parse_member("r9", doc("r9", "Leader", token=5))], {"r9": 0x99},
                  holder="r1", holder_session=0xA1, holder_token=LEADER.token)  # fmt: skip
    members = status_document(view(members=(*view().members, *stale)), "/e/l", now=1010.0)[
        "members"
    ]
    assert all(isinstance(m["stale"], bool) for m in members)
    by_name = {m["replica"]: m for m in members}
    assert by_name["r9"]["stale"] is True
    assert by_name["r9"]["stale_reason"] == (
        "says Leader, but another session leads the queue (r1)"
    )
    assert by_name["r2"]["stale"] is False and by_name["r2"]["stale_reason"] is None


def test_the_document_says_who_paused_and_which_hand_over_stands() -> None:
    request = Handover(id="abc", leader="r1", token=4294967310, to="r2", by="ops@vm", at=1008.0)
    document = status_document(
        view(paused=True, pause=Pause(by="ops@vm", at=1005.0, reason="kernel"), handover=request,
             handover_standing=True),
        "/election/leader",
        now=1010.0,
    )  # fmt: skip
    assert document["paused"] is True
    assert document["pause"] == {"by": "ops@vm", "at": 1005.0, "reason": "kernel"}
    assert document["handover"] == {
        "id": "abc", "leader": "r1", "token": 4294967310, "to": "r2", "by": "ops@vm", "at": 1008.0,
    }  # fmt: skip
    assert document["leads"] is False


def test_without_a_member_node_since_is_when_the_election_node_was_made() -> None:
    document = status_document(view(members=()), "/e/leader", now=1010.0)
    assert document["leader"]["since"] == 1000.0


def test_an_unreadable_member_has_no_state_and_says_why() -> None:
    rows = tuple(build_rows({"evil": b"\x00"}))
    [member] = status_document(view(members=rows), "/e/leader", now=1010.0)["members"]
    assert member["state"] is None and member["priority"] is None
    assert member["problem"].startswith("unreadable")


# ---------------------------------------------------------------- the table


def text_of(shown: ClusterView) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(render_status(shown, now=1010.0))
    return console.export_text()


def test_the_table_names_the_leader_its_token_and_every_member_s_priority() -> None:
    text = text_of(view())
    assert "leader    r1  token 4294967310  since " in text
    assert "paused    no" in text and "handover  none" in text
    r0 = next(line for line in text.splitlines() if " r0 " in line)
    assert "Attempter" in r0 and " 0 " in r0


def test_the_table_says_who_paused_why_and_the_pending_hand_over() -> None:
    request = Handover(id="abc", leader="r1", token=7, to=None, by="ops@vm", at=1008.0)
    text = text_of(
        view(paused=True, pause=Pause(by="ops@vm", at=1005.0, reason="kernel upgrade"),
             handover=request, handover_standing=True)
    )  # fmt: skip
    assert "paused    yes, by ops@vm at " in text and "(5.0s ago): kernel upgrade" in text
    assert "leader    none  (r1 holds its place at the head of the queue)" in text
    assert "handover  r1 (token 7) -> the highest priority, asked by ops@vm" in text


def test_the_table_marks_a_stale_member_and_says_why() -> None:
    rows = judge([parse_member("r9", doc("r9", "Leader", token=5))], {"r9": 0x99},
                 holder=None, holder_session=None, holder_token=None)  # fmt: skip
    text = text_of(view(leader=None, members=tuple(rows)))
    assert "leader    none" in text
    assert "Leader? stale" in text
    assert "! r9 says Leader, but no replica leads the queue" in text


def test_top_shows_priority_and_never_a_stale_member_as_leader() -> None:
    rows = judge(
        [parse_member("r9", doc("r9", "Leader", token=5, priority=4)),
         parse_member("r1", doc("r1", "Leader", token=8, priority=2))],
        {"r9": 0x99, "r1": 0xA1}, holder="r1", holder_session=0xA1, holder_token=8,
    )  # fmt: skip
    console = Console(record=True, width=160, color_system=None)
    console.print(
        render(Snapshot(rows=tuple(rows), holder="r1", holder_token=8), "zk", "/e", 1010.0)
    )
    text = console.export_text()
    r9 = next(line for line in text.splitlines() if "│ r9 " in line)
    r1 = next(line for line in text.splitlines() if "│ r1 " in line)
    assert "Leader? stale" in r9 and "│ ! │" in r9 and "│    4 │" in r9
    assert "│ * │" in r1 and "│    2 │" in r1
    assert "! r9 says Leader, but another session leads the queue (r1)" in text
    assert "several replicas say Leader" not in text  # only one is believed
