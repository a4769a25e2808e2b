"""The queue_log parser on strings: every line type and data layout (Asterisk 1.4 to 22),
and the contradictions of real logs. Every event goes through a real projection, so
each test also checks that the events satisfy the event contract."""

from __future__ import annotations

import json

import pytest

from talkstats.connectors.asterisk.lines import parse_line
from talkstats.connectors.asterisk.mapping import KnownReference, Mapping
from tests.connectors.asterisk.conftest import NS, T0, Replay, log

WAITING_CALL = """
+0|NONE|support|PJSIP/400|ADDMEMBER|
+10|c1|support|NONE|ENTERQUEUE||+4911111|1
"""


def fields(events: list[dict[str, object]], etype: str) -> list[dict[str, object]]:
    return [e for e in events if e["type"] == etype]


# --- ENTERQUEUE, CONNECT, COMPLETE across versions ----------------------------------------


@pytest.mark.parametrize(
    "enterqueue",
    [
        "ENTERQUEUE||+4911111",  # 1.4: url|callerid
        "ENTERQUEUE||+4911111|1",  # 1.6 to 21: url|callerid|origposition
        "ENTERQUEUE||+4911111|1|Ann Caller",  # 22 with log_caller_id_name: ...|cidname
    ],
)
@pytest.mark.parametrize(
    "connect",
    [
        "CONNECT|20|1700.2",  # 1.4: holdtime|bridged uniqueid
        "CONNECT|20|1700.2|5",  # 1.6 on: ...|ringtime
    ],
)
@pytest.mark.parametrize("complete", ["COMPLETECALLER|20|100|1", "COMPLETEAGENT|20|100|1"])
def test_an_answered_call_in_every_layout(enterqueue: str, connect: str, complete: str) -> None:
    r = Replay()
    r.feed(f"""
        +0|NONE|support|PJSIP/400|ADDMEMBER|
        +10|c1|support|NONE|{enterqueue}
        +30|c1|support|PJSIP/400|{connect}
        +130|c1|support|PJSIP/400|{complete}
    """)
    assert r.types() == [
        "agent.state_changed", "call.started", "call.queued", "call.answered",
        "call.ended", "call.wrap_up_ended",
    ]  # fmt: skip
    started = r.events[1]
    assert started["from"] == "+4911111" and started["direction"] == "inbound"
    o = r.overview()
    assert (o["total_calls"], o["average_queue_wait_time"], o["average_time_to_answer"]) == (
        1,
        20,
        20,
    )
    assert o["total_call_duration"] == 120
    a = r.activity()[400]
    assert (a["calls_accepted"], a["total_talk_time"], a["agent_state"]) == (1, 100, "online")
    assert a["name"] == "PJSIP/400"


def test_ids_come_from_the_line_so_a_second_reading_gives_the_same_events() -> None:
    text = WAITING_CALL + "+30|c1|support|PJSIP/400|CONNECT|20|1700.2|5"
    first, second = Replay(), Replay()
    assert first.feed(text) == second.feed(text)
    ids = [e["id"] for e in first.events]
    assert len(set(ids)) == len(ids)


def test_identical_lines_in_one_second_get_distinct_ids() -> None:
    r = Replay()
    events = r.feed("""
        +0|NONE|support|PJSIP/400|ADDMEMBER|
        +5|NONE|support|PJSIP/400|PAUSE|x
        +5|NONE|support|PJSIP/400|UNPAUSE|
        +5|NONE|support|PJSIP/400|PAUSE|x
    """)
    assert [e["state"] for e in events] == ["online", "away", "online", "away"]
    assert len({e["id"] for e in events}) == 4


# --- missed, cancelled, dumped ---------------------------------------------------------------


def test_ringnoanswer_is_an_offer_and_a_miss_but_not_under_a_second() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +25|c1|support|PJSIP/400|RINGNOANSWER|15000
        +26|c1|support|PJSIP/400|RINGNOANSWER|0
        +27|c1|support|PJSIP/400|RINGNOANSWER|999
        +28|c1|support|PJSIP/400|RINGCANCELED|1200
    """
    )
    assert r.activity()[400]["calls_missed"] == 1
    skipped = r.parser.skipped
    assert skipped["member could not be rung (ring under 1000 ms): not a miss"] == 2
    assert skipped["ring cancelled by the caller: not a miss"] == 1


def test_agentdump_is_a_declined_call() -> None:
    r = Replay()
    r.feed(WAITING_CALL + "+20|c1|support|PJSIP/400|AGENTDUMP|")
    assert r.activity()[400]["calls_denied"] == 1


def test_ringall_rings_one_member_for_two_calls_at_once() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +11|c2|support|NONE|ENTERQUEUE||+4922222|2
        +40|c1|support|PJSIP/400|RINGNOANSWER|15000
        +40|c2|support|PJSIP/400|RINGNOANSWER|15000
        +41|c2|support|PJSIP/400|CONNECT|30|x|15
    """
    )
    a = r.activity()[400]
    assert (a["calls_missed"], a["calls_accepted"]) == (2, 1)


def test_a_member_on_a_call_rung_for_another_one_ringinuse_is_not_a_miss() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +20|c1|support|PJSIP/400|CONNECT|10|x|2
        +30|c2|support|NONE|ENTERQUEUE||+4922222|1
        +50|c2|support|PJSIP/400|RINGNOANSWER|15000
        +60|c1|support|PJSIP/400|COMPLETEAGENT|10|40|1
    """
    )
    assert r.activity()[400]["calls_missed"] == 0
    assert r.parser.skipped["member rung while on another call (ringinuse): not a miss"] == 1
    assert r.queue()["calls_waiting"] == 1


# --- leaving the queue ---------------------------------------------------------------------------


def test_abandon_ends_a_waiting_call_abandoned_in_queue() -> None:
    r = Replay()
    r.feed(WAITING_CALL + "+40|c1|support|NONE|ABANDON|1|1|30")
    o = r.overview()
    assert (o["total_calls_abandoned_in_queue"], o["max_queue_wait_time"]) == (1, 30)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("EXITWITHTIMEOUT|1", "exceeded_queue_wait_time"),  # 1.4
        ("EXITWITHTIMEOUT|1|1|30", "exceeded_queue_wait_time"),  # 1.8 on
        ("EXITWITHKEY|5|1", "requested"),  # 1.4: key|position
        ("EXITWITHKEY|5|1|1|30", "requested"),  # 1.8 on: key|position|origposition|wait
        ("EXITEMPTY|1|1|30", "no_available_agents"),
    ],
)
def test_exits_are_voicemails_once_the_requeue_window_has_passed(line: str, reason: str) -> None:
    r = Replay()
    r.feed(WAITING_CALL)
    assert r.feed(f"+40|c1|support|NONE|{line}") == []  # the caller may requeue
    assert r.queue()["calls_waiting"] == 1
    settled = r.feed("+43|NONE|support|PJSIP/400|PAUSE|")  # a later line settles it
    voicemail = fields(settled, "call.voicemail")
    assert voicemail[0]["reason"] == reason and voicemail[0]["time"].endswith("09:00:40Z")
    o = r.overview()
    assert (o["total_voicemails"], o["total_calls_abandoned_in_queue"]) == (1, 0)
    assert o["max_queue_wait_time"] == 30
    assert r.queue()["calls_waiting"] == 0


def test_a_caller_who_moves_to_another_queue_is_one_call() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +40|c1|support|NONE|EXITWITHTIMEOUT|1|1|30
        +41|c1|sales|NONE|ENTERQUEUE||+4911111|1
        +60|c1|sales|SIP/500|CONNECT|19|x|3
        +90|c1|sales|SIP/500|COMPLETECALLER|19|30|1
    """
    )
    o = r.overview()
    assert (o["total_calls"], o["total_voicemails"], o["max_queue_wait_time"]) == (1, 0, 50)
    assert r.activity()[500]["calls_accepted"] == 1
    assert r.parser.notes["callers who moved to another queue (one call)"] == 1


def test_a_caller_back_in_a_queue_after_the_window_is_a_new_call() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +40|c1|support|NONE|EXITWITHTIMEOUT|1|1|30
        +100|c1|sales|NONE|ENTERQUEUE||+4911111|1
        +110|c1|sales|NONE|ABANDON|1|1|10
    """
    )
    assert [e["call_id"] for e in fields(r.events, "call.started")] == ["c1", "c1~2"]
    o = r.overview()
    assert (o["total_calls"], o["total_voicemails"], o["total_calls_abandoned_in_queue"]) == (
        2,
        1,
        1,
    )


def test_syscompat_drops_the_call() -> None:
    r = Replay()
    r.feed(WAITING_CALL + "+20|c1|support|PJSIP/400|SYSCOMPAT|")
    assert r.overview()["total_call_duration"] == 10
    assert r.activity()[400]["calls_accepted"] == 0


def test_withdraw_leaves_the_queue_without_voicemail() -> None:
    r = Replay()
    r.feed(WAITING_CALL + "+40|c1|support|NONE|WITHDRAW|1|1|30|info")
    r.finish()
    assert r.overview()["total_calls_abandoned_in_queue"] == 1


def test_a_live_follow_settles_an_exit_with_the_clock() -> None:
    r = Replay()
    r.feed(WAITING_CALL + "+40|c1|support|NONE|EXITEMPTY|1|1|30")
    assert r.expire((T0 + 42) * NS) == []  # window 2 s plus the second a line's time is cut to
    assert r.types(r.expire((T0 + 43) * NS)) == ["call.voicemail", "call.ended"]


# --- transfers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "transfer",
    [
        "TRANSFER|401|from-internal|20|60",  # 1.4: extension|context|holdtime|calltime
        "TRANSFER|401|from-internal|20|60|1",  # 1.6 to 11: ...|origposition
        "BLINDTRANSFER|401|from-internal|20|60|1",  # 12 on
        "ATTENDEDTRANSFER|BRIDGE|5a3c-bridge|20|60|1",
        "ATTENDEDTRANSFER|APP|Dial|20|60|1",
        "ATTENDEDTRANSFER|LINK|Local/401@x-0001;1|Local/401@x-0001;2|20|60|1",
    ],
)
def test_transfers_end_the_call_for_the_member(transfer: str) -> None:
    connected = WAITING_CALL + "+30|c1|support|PJSIP/400|CONNECT|20|x|5\n"
    r = Replay(known=KnownReference(users={401: ("Bea", "agent")}))
    r.feed(connected + f"+90|c1|support|PJSIP/400|{transfer}")
    started = fields(r.events, "call.transfer_started")[0]
    blind = transfer.startswith(("TRANSFER|401", "BLINDTRANSFER|401"))
    assert started.get("to_agent_id") == (401 if blind else None)
    a = r.activity()[400]
    assert (a["started_transfers"], a["total_talk_time"], a["call_status"]) == (1, 60, None)
    # without the CONNECT (the log began later): the answer comes from the reported times
    late = Replay(known=KnownReference(users={401: ("Bea", "agent")}))
    late.feed(f"+90|c1|support|PJSIP/400|{transfer}")
    assert late.activity()[400]["total_talk_time"] == 60
    assert late.overview()["max_queue_wait_time"] == 20


def test_connect_by_another_member_moves_the_call() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +20|c1|support|PJSIP/400|CONNECT|10|x|2
        +50|c1|support|PJSIP/401|CONNECT|10|y|2
        +80|c1|support|PJSIP/401|COMPLETECALLER|10|30|1
    """
    )
    a = r.activity()
    assert (a[400]["total_talk_time"], a[401]["total_talk_time"]) == (30, 30)
    assert a[401]["accepted_transfers"] == 1


# --- members ------------------------------------------------------------------------------------------


def test_pauses_per_queue_and_everywhere_with_mapped_reasons() -> None:
    mapping = Mapping.from_dict({"pause_reasons": {"Transfers only": "transfers_only"}})
    r = Replay(mapping)
    events = r.feed("""
        +0|NONE|support|PJSIP/400|ADDMEMBER|
        +0|NONE|sales|PJSIP/400|ADDMEMBER|
        +10|NONE|support|PJSIP/400|PAUSE|Lunch
        +20|NONE|sales|PJSIP/400|PAUSE|Lunch
        +30|NONE|support|PJSIP/400|UNPAUSE|
        +40|NONE|NONE|PJSIP/400|PAUSEALL|
        +50|NONE|NONE|PJSIP/400|UNPAUSEALL|
        +60|NONE|NONE|PJSIP/400|PAUSEALL|Transfers only
        +70|NONE|NONE|PJSIP/400|UNPAUSEALL|
        +80|NONE|support|PJSIP/400|REMOVEMEMBER|
        +90|NONE|sales|PJSIP/400|REMOVEMEMBER|
        +100|NONE|sales|PJSIP/400|ADDMEMBER|PAUSED
    """)
    assert [(e["time"][14:19], e["state"]) for e in events] == [
        ("00:00", "online"), ("00:20", "away"), ("00:30", "online"), ("00:40", "away"),
        ("00:50", "online"), ("01:00", "transfers_only"), ("01:10", "online"),
        ("01:30", "offline"), ("01:40", "away"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("login", "logoff", "member"),
    [
        ("AGENTLOGIN|SIP/1001-000001", "AGENTLOGOFF|SIP/1001-000001|3600", "Agent/1001"),  # 1.4-11
        ("AGENTLOGIN|PJSIP/1001-000001", "AGENTLOGOFF|PJSIP/1001-000001|3600", "1001"),  # 12 on
        ("AGENTCALLBACKLOGIN|1001@from-internal", "AGENTCALLBACKLOGOFF|1001@x|3600|", "Agent/1001"),
    ],
)
def test_agent_logins(login: str, logoff: str, member: str) -> None:
    r = Replay()
    events = r.feed(f"+0|x|NONE|{member}|{login}\n+3600|x|NONE|{member}|{logoff}")
    assert [(e["agent_id"], e["state"]) for e in events] == [(1001, "online"), (1001, "offline")]


def test_an_interface_and_its_member_name_are_one_agent_through_the_mapping() -> None:
    mapping = Mapping.from_toml(
        '[members]\n"PJSIP/400" = { agent_id = 400, name = "Ann Lee" }\n"Ann Lee" = 400\n'
    )
    r = Replay(mapping)
    r.feed("""
        +0|NONE|support|PJSIP/400|ADDMEMBER|
        +10|c1|support|NONE|ENTERQUEUE||+4911111|1
        +20|c1|support|Ann Lee|CONNECT|10|x|2
        +30|NONE|support|Ann Lee|PAUSE|
    """)
    assert set(r.names) == {400} and r.names[400] == "Ann Lee"
    assert r.activity()[400]["calls_accepted"] == 1


def test_a_member_name_matches_an_existing_agent_by_name() -> None:
    r = Replay(known=KnownReference(users={7: ("Ann Lee", "agent")}))
    r.feed("+0|NONE|support|Ann Lee|ADDMEMBER|")
    assert r.names == {} and r.events[0]["agent_id"] == 7


def test_a_static_member_answers_without_logging_in() -> None:
    r = Replay()
    r.feed("""
        +10|c1|support|NONE|ENTERQUEUE||+4911111|1
        +20|c1|support|SIP/300|CONNECT|10|x|2
        +80|c1|support|SIP/300|COMPLETECALLER|10|60|1
    """)
    assert r.types()[:4] == ["call.started", "call.queued", "agent.state_changed", "call.answered"]
    a = r.activity()[300]
    assert (a["agent_state"], a["calls_accepted"]) == ("online", 1)


# --- contradictions ---------------------------------------------------------------------------------------


def test_a_connect_without_complete_ends_at_the_members_next_call() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +20|c1|support|PJSIP/400|CONNECT|10|x|2
        +30|c2|support|NONE|ENTERQUEUE||+4922222|1
        +80|c2|support|PJSIP/400|CONNECT|50|y|2
    """
    )
    a = r.activity()[400]
    assert (a["calls_accepted"], a["total_talk_time"], a["call_status"]) == (2, 60, "on_call")
    assert r.overview()["total_calls"] == 2


def test_asterisk_restart_ends_open_calls_and_their_late_lines_are_skipped() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +20|c1|support|PJSIP/400|CONNECT|10|x|2
        +30|c2|support|NONE|ENTERQUEUE||+4922222|1
        +100|NONE|NONE|NONE|QUEUESTART|
        +120|c1|support|PJSIP/400|COMPLETECALLER|10|100|1
        +130|c2|support|NONE|ABANDON|1|1|100
        +140|c3|support|NONE|ENTERQUEUE||+4933333|1
    """
    )
    o = r.overview()
    assert (o["total_calls"], o["total_calls_abandoned_in_queue"]) == (3, 1)
    assert r.activity()[400]["total_talk_time"] == 80
    assert r.queue()["calls_waiting"] == 1
    assert r.parser.notes["calls ended by an Asterisk restart"] == 2


def test_lines_a_second_out_of_order_keep_each_call_in_order() -> None:
    r = Replay()
    r.feed(
        WAITING_CALL
        + """
        +31|c1|support|PJSIP/400|CONNECT|21|x|5
        +30|c1|support|PJSIP/401|RINGNOANSWER|5000
        +90|c1|support|PJSIP/400|COMPLETECALLER|21|59|1
    """
    )
    assert r.activity()[400]["calls_accepted"] == 1


def test_a_call_whose_start_is_in_an_earlier_file_is_rebuilt_from_its_wait() -> None:
    r = Replay()
    r.feed(
        "+200|c9|support|PJSIP/400|CONNECT|45|x|4\n+260|c9|support|PJSIP/400|COMPLETEAGENT|45|60|1"
    )
    o = r.overview()
    assert (o["total_calls"], o["max_queue_wait_time"], o["total_call_duration"]) == (1, 45, 105)


# --- wrap-up ------------------------------------------------------------------------------------------------


def test_wrap_up_ends_after_the_set_time_or_at_the_members_next_line() -> None:
    r = Replay(wrapup_seconds=30)
    r.feed(
        WAITING_CALL
        + """
        +20|c1|support|PJSIP/400|CONNECT|10|x|2
        +80|c1|support|PJSIP/400|COMPLETECALLER|10|60|1
        +90|c2|support|NONE|ENTERQUEUE||+4922222|1
        +95|c2|support|PJSIP/400|CONNECT|5|y|2
        +100|c2|support|PJSIP/400|COMPLETECALLER|5|5|1
    """
    )
    assert r.activity()[400]["call_status"] == "wrap_up"
    r.finish()
    a = r.activity()[400]
    assert (a["total_wrap_up_time"], a["call_status"]) == (15 + 30, None)


def test_time_before_1970_is_skipped_and_unknown_events_are_counted() -> None:
    r = Replay()
    r.parser.feed(parse_line("-5|x|q|NONE|ENTERQUEUE||1|1"))
    r.feed("+0|x|q|NONE|MYCUSTOM|a|b\n+0|NONE|NONE|NONE|CONFIGRELOAD|")
    assert r.parser.skipped == {
        "time before 1970": 1,
        "unknown event MYCUSTOM": 1,
        "no statistics (CONFIGRELOAD)": 1,
    }


# --- numbers --------------------------------------------------------------------------------------------


def test_did_lines_give_the_call_its_phone_number() -> None:
    r = Replay(Mapping.from_dict({"dids": {"+4930999": 77}}))
    r.feed("""
        +0|c1|support|NONE|DID|+4930123
        +0|c1|support|NONE|ENTERQUEUE||+4911111|1
        +1|c2|support|NONE|DID|+4930999
        +1|c2|support|NONE|ENTERQUEUE||+4911111|1
        +2|c3|support|NONE|DID|
        +2|c3|support|NONE|ENTERQUEUE||+4911111|1
    """)
    started = fields(r.events, "call.started")
    numbers = [e["phone_number_id"] for e in started]
    assert numbers[1] == 77 and len(set(numbers)) == 3
    assert started[0]["to"] == "+4930123" and "to" not in started[2]


# --- a restart of the connector ----------------------------------------------------------------------------


def test_a_parser_restored_from_its_snapshot_goes_on_as_if_never_stopped() -> None:
    text = (
        WAITING_CALL
        + """
        +20|c1|support|PJSIP/400|CONNECT|10|x|2
        +30|c2|support|NONE|ENTERQUEUE||+4922222|1
        +40|c2|support|NONE|EXITWITHTIMEOUT|1|1|10
        +80|c1|support|PJSIP/400|COMPLETECALLER|10|60|1
        +85|NONE|support|PJSIP/400|PAUSE|
    """
    )
    lines = [parse_line(line) for line in log(text)]
    whole = Replay(wrapup_seconds=10)
    expected = [e for line in lines for e in whole.parser.feed(line)] + whole.parser.finish()
    for cut in range(len(lines) + 1):
        first = Replay(wrapup_seconds=10)
        got = [e for line in lines[:cut] for e in first.parser.feed(line)]
        state = json.loads(json.dumps(first.parser.snapshot()))
        second = Replay(wrapup_seconds=10)
        second.resolver.restore(state["resolver"])
        second.parser.restore(state)
        got += [e for line in lines[cut:] for e in second.parser.feed(line)]
        got += second.parser.finish()
        assert got == expected, cut


@pytest.mark.parametrize("wait", ["99999999999999999999999", "\u00b2", "86401"])
def test_a_connect_without_its_start_and_an_absurd_wait_starts_where_it_is(wait: str) -> None:
    r = Replay()
    events = r.feed(
        f"""
        +0|NONE|support|PJSIP/400|ADDMEMBER|
        +10|c9|support|PJSIP/400|CONNECT|{wait}|c9.1|1
    """
    )
    started = fields(events, "call.started")
    assert len(started) == 1
    assert started[0]["time"] == fields(events, "call.answered")[0]["time"]
