"""The JSON Schemas of the OpenAPI document: every body the API reads or writes.

Declared once as data and published under ``components/schemas``; operations refer to
them by name (``ref("AccountOverviewResponse")``, see ``openapi.py``). Response
schemas are closed (``additionalProperties: false``) so that the schemathesis suite
(tests/api/test_openapi_conformance.py) notices a field the document does not name;
request records stay open where the API ignores unknown fields, as Zendesk does.
The event schemas are generated from ``domain.events.SPECS`` (``domain/eventschema.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..domain.events import AGENT_STATES, VIAS
from ..domain.eventschema import event_schemas
from ..store.base import MAX_RECORD_ID, ROLES
from . import bodies
from .text import SPACE_CLASS

Schema = dict[str, Any]

REF_PREFIX = "#/components/schemas/"
MAX_ID = MAX_RECORD_ID
MAX_QUERY_INT = 10**18 - 1  # query integers have at most 18 digits (params.py)
PROFESSIONAL = "Professional plan and above: absent for an account on the team plan."
MAX_PASSWORD = 1024


def ref(name: str) -> Schema:
    """A reference to the component schema ``name``."""
    return {"$ref": REF_PREFIX + name}


def _closed(
    properties: Mapping[str, Schema],
    *,
    optional: Iterable[str] = (),
    description: str | None = None,
) -> Schema:
    """An object whose properties are exactly these; all required except ``optional``."""
    skip = set(optional)
    out: Schema = {
        "type": "object",
        "properties": dict(properties),
        "required": [name for name in properties if name not in skip],
        "additionalProperties": False,
    }
    if description:
        out["description"] = description
    return out


def _seconds(text: str) -> Schema:
    return {"type": "integer", "minimum": 0, "description": f"{text} (whole seconds)."}


def _count(text: str) -> Schema:
    return {"type": "integer", "minimum": 0, "description": f"{text}."}


def _professional(fields: Mapping[str, Schema]) -> dict[str, Schema]:
    """The same fields, marked as shown only on the professional and enterprise plans."""
    return {
        name: {
            **schema,
            "description": f"{schema['description']} {PROFESSIONAL}",
            "x-plans": ["professional", "enterprise"],
        }
        for name, schema in fields.items()
    }


def _with_plans(base: Mapping[str, Schema], professional: Mapping[str, Schema]) -> Schema:
    """The base fields always present, the professional ones optional, keys sorted."""
    merged = {**base, **_professional(professional)}
    return _closed(dict(sorted(merged.items())), optional=professional)


def _nullable(schema: Schema) -> Schema:
    out = dict(schema)
    kind = out["type"]
    out["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


_ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_URL = {"type": "string", "format": "uri"}
_AGENT_STATE = {
    "type": "string",
    "enum": sorted(AGENT_STATES),
    "description": "The agent's Talk status.",
}
_CALL_STATUS = {
    "type": ["string", "null"],
    "enum": ["on_call", "wrap_up", None],
    "description": "on_call during a call, wrap_up after it, null otherwise.",
}
_VIA = {
    "type": ["string", "null"],
    "enum": [*VIAS, None],
    "description": "Where the agent takes calls (browser client or phone), if known.",
}

# --- statistics ------------------------------------------------------------------------

_OVERVIEW_BASE: dict[str, Schema] = {
    "average_call_duration": _seconds("Mean duration of the calls that ended"),
    "average_queue_wait_time": _seconds("Mean time callers waited in the queue"),
    "average_wrap_up_time": _seconds("Mean wrap-up time after a call"),
    "max_calls_waiting": _count(
        "Most calls waiting at the same time (on the line or for a callback)"
    ),
    "max_queue_wait_time": _seconds("Longest time a caller waited in the queue"),
    "total_call_duration": _seconds("Summed duration of the calls that ended"),
    "total_calls": _count("Calls started, inbound and outbound"),
    "total_voicemails": _count("Calls that went to voicemail, for any reason"),
    "total_wrap_up_time": _seconds("Summed wrap-up time"),
}
_OVERVIEW_PROFESSIONAL: dict[str, Schema] = {
    "average_callback_wait_time": _seconds("Mean wait of the callback requests an agent answered"),
    "average_hold_time": _seconds("Mean hold time per answered call"),
    "average_time_to_answer": _seconds(
        "Mean time from the system answering a queued call to an agent taking it"
    ),
    "total_callback_calls": _count("Callback requests, whether they succeeded or not"),
    "total_calls_abandoned_in_queue": _count(
        "Calls whose caller hung up while waiting in the queue"
    ),
    "total_calls_outside_business_hours": _count("Calls that arrived outside business hours"),
    "total_calls_with_exceeded_queue_wait_time": _count(
        "Calls sent to voicemail after waiting too long"
    ),
    "total_calls_with_requested_voicemail": _count("Calls whose caller asked for voicemail"),
    "total_embeddable_callback_calls": _count("Callback requests made through the Web Widget"),
    "total_hold_time": _seconds("Summed hold time"),
    "total_inbound_calls": _count("Inbound calls"),
    "total_outbound_calls": _count("Outbound calls"),
    "total_textback_requests": _count("Text-back messages the IVR sent"),
}

_ACTIVITY_BASE: dict[str, Schema] = {
    "agent_id": {**_ID, "description": "The agent's user id."},
    "agent_state": {
        **_AGENT_STATE,
        "description": "The agent's Talk status (at the end of a past day).",
    },
    "available_time": _seconds(
        "Time online and free to take a call (not on a call, not in wrap-up)"
    ),
    "avatar_url": {"type": ["string", "null"], "description": "The agent's picture, if any."},
    "away_time": _seconds("Time in the away status"),
    "call_status": _CALL_STATUS,
    "calls_accepted": _count("Calls the agent answered"),
    "calls_denied": _count("Offered calls the agent declined"),
    "calls_missed": _count("Offered calls the agent let ring out"),
    "forwarding_number": {
        "type": ["string", "null"],
        "description": "The number calls are forwarded to, if set.",
    },
    "name": {"type": "string", "description": "The agent's name."},
    "online_time": _seconds("Time in any online status (online, away, transfers only)"),
    "total_call_duration": _seconds("Time on calls"),
    "total_talk_time": _seconds("Time on calls, less hold time"),
    "total_wrap_up_time": _seconds("Time in wrap-up"),
    "transfers_only_time": _seconds("Time in the transfers-only status"),
    "via": _VIA,
}
_ACTIVITY_PROFESSIONAL: dict[str, Schema] = {
    "accepted_third_party_conferences": _count("Conference invitations the agent accepted"),
    "accepted_transfers": _count("Transfers the agent accepted"),
    "average_hold_time": _seconds("Mean hold time per call leg of the agent"),
    "average_talk_time": _seconds("Mean talk time per call leg of the agent"),
    "average_wrap_up_time": _seconds("Mean wrap-up time"),
    "calls_put_on_hold": _count("Calls the agent put on hold"),
    "started_third_party_conferences": _count("Conferences the agent started"),
    "started_transfers": _count("Transfers the agent started"),
    "total_hold_time": _seconds("Time the agent's callers spent on hold"),
}

_AGENTS_OVERVIEW_BASE: dict[str, Schema] = {
    "average_wrap_up_time": _seconds("Mean wrap-up time"),
    "total_calls_accepted": _count("Calls agents answered"),
    "total_calls_denied": _count("Offers agents declined"),
    "total_calls_missed": _count("Offers agents let ring out"),
    "total_talk_time": _seconds("Time on calls, less hold time"),
    "total_wrap_up_time": _seconds("Time in wrap-up"),
}
_AGENTS_OVERVIEW_PROFESSIONAL: dict[str, Schema] = {
    "average_accepted_transfers": _count("Transfers accepted per active agent"),
    "average_available_time": _seconds("Available time per active agent"),
    "average_away_time": _seconds("Away time per active agent"),
    "average_calls_accepted": _count("Calls answered per active agent"),
    "average_calls_denied": _count("Offers declined per active agent"),
    "average_calls_missed": _count("Offers missed per active agent"),
    "average_calls_put_on_hold": _count("Calls put on hold per active agent"),
    "average_hold_time": _seconds("Mean hold time per call leg"),
    "average_online_time": _seconds("Online time per active agent"),
    "average_started_transfers": _count("Transfers started per active agent"),
    "average_talk_time": _seconds("Mean talk time per call leg"),
    "average_transfers_only_time": _seconds("Transfers-only time per active agent"),
    "total_accepted_transfers": _count("Transfers agents accepted"),
    "total_calls_put_on_hold": _count("Calls agents put on hold"),
    "total_hold_time": _seconds("Summed hold time"),
    "total_started_transfers": _count("Transfers agents started"),
}

_QUEUE: dict[str, Schema] = {
    "agents_online": _count("Agents in an online status now (on a call or in wrap-up included)"),
    "average_wait_time": _seconds("Mean wait so far of the callers waiting now"),
    "callbacks_waiting": _count("Callback requests waiting now"),
    "calls_waiting": _count("Callers waiting on the line now"),
    "embeddable_callbacks_waiting": _count("Web Widget callback requests waiting now"),
    "longest_wait_time": _seconds("Wait so far of the caller waiting longest"),
}

_TIMELINE_COUNTS: dict[str, Schema] = {
    "calls": _count("Calls that started in it (inbound and outbound)"),
    "offered": _count("Inbound calls that started in it"),
    "answered": _count("Of those, calls an agent answered (so far)"),
    "abandoned": _count("Of those, calls that ended waiting in the on-line queue (so far)"),
    "max_calls_waiting": _count("The most callers waiting at once during it (line + callbacks)"),
}
_TIMELINE = _closed(
    {
        "date": {"type": "string", "format": "date", "description": "The local day."},
        "interval": {
            "type": "integer",
            "enum": [300, 900, 1800, 3600],
            "description": "Length of each interval in seconds.",
        },
        "timezone": {"type": "string", "description": "The account's IANA time zone."},
        "intervals": {
            "type": "array",
            "description": "From local midnight; today stops at the interval holding now.",
            "items": _closed(
                {
                    "start": {
                        "type": "string",
                        "format": "date-time",
                        "description": "Local start of the interval, with its UTC offset.",
                    },
                    **_TIMELINE_COUNTS,
                    "calls_waiting": _count("Callers waiting at its end (or now)"),
                }
            ),
        },
        "totals": _closed(_TIMELINE_COUNTS),
    }
)


def _typed(kind: str | list[str], text: str, **more: Any) -> Schema:
    return {"type": kind, "description": text, **more}


_NULL_INT = ["integer", "null"]
_NULL_STR = ["string", "null"]
_TIME = {"type": "string", "format": "date-time"}
_NOT_KNOWN = "talkstats cannot know it: always this empty value"
_EXPORT_CALL = _closed(
    {
        "id": _typed("integer", "Stable per account: the n-th call of the account's log."),
        "external_id": _typed("string", "The call_id talkstats received."),
        "created_at": {**_TIME, "description": "When the call started."},
        "updated_at": {**_TIME, "description": "When the record last changed."},
        "agent_id": _typed(_NULL_INT, "The agent of the call's last leg."),
        "phone_number_id": _typed("integer", "The phone number."),
        "line_id": _typed("integer", "The same as phone_number_id."),
        "phone_number": _typed(_NULL_STR, "The number dialled (or dialling out)."),
        "line": _typed(_NULL_STR, "The same as phone_number."),
        "line_type": _typed("string", "Always phone.", enum=["phone"]),
        "direction": _typed("string", "inbound or outbound.", enum=["inbound", "outbound"]),
        "duration": _typed(_NULL_INT, "Seconds from start to end; null while it goes on."),
        "wait_time": _typed(_NULL_INT, "Seconds waited in the on-line queue."),
        "talk_time": _typed(_NULL_INT, "Seconds connected with agents, holds excluded."),
        "hold_time": _typed(_NULL_INT, "Seconds on hold."),
        "wrap_up_time": _typed(_NULL_INT, "Seconds of the agents' wrap-up."),
        "time_to_answer": _typed(_NULL_INT, "Seconds from start to the first answer."),
        "completion_status": _typed(_NULL_STR, "How the call ended; null while it goes on."),
        "voicemail": _typed("boolean", "It went to voicemail."),
        "callback": _typed("boolean", "A callback was requested."),
        "callback_source": _typed(_NULL_STR, "Where the callback request came from."),
        "outside_business_hours": _typed("boolean", "It started outside business hours."),
        "exceeded_queue_time": _typed("boolean", "Voicemail after the queue wait limit."),
        "exceeded_queue_wait_time": _typed("boolean", "The same as exceeded_queue_time."),
        "customer_requested_voicemail": _typed("boolean", "The caller asked for voicemail."),
        "call_group_id": _typed(_NULL_INT, "The group of its last call.queued."),
        "quality_issues": {"type": "array", "maxItems": 0, "description": _NOT_KNOWN},
        **{
            name: {"type": "null", "description": _NOT_KNOWN}
            for name in (
                "call_channel", "call_charge", "call_recording_consent",
                "call_recording_consent_action", "call_recording_consent_keypress",
                "consultation_time", "customer_id", "ivr_action", "ivr_destination_group_name",
                "ivr_hops", "ivr_routed_to", "ivr_time_spent", "minutes_billed",
                "not_recording_time", "overflowed_to", "recording_control_interactions",
                "recording_time", "ticket_id",
            )
        },
        **{
            name: {"type": "boolean", "const": False, "description": _NOT_KNOWN}
            for name in (
                "default_group", "overflowed", "post_call_summary_created",
                "post_call_transcription_created",
            )
        },
    }
)  # fmt: skip
_EXPORT_LEG = _closed(
    {
        "id": _typed("integer", "Stable per account: legs numbered in the order they begin."),
        "call_id": _typed("integer", "The call record's id."),
        "type": _typed("string", "Always agent.", enum=["agent"]),
        "agent_id": _typed(_NULL_INT, "The agent."),
        "user_id": _typed(_NULL_INT, "The same as agent_id."),
        "created_at": {**_TIME, "description": "When the leg (or the offer) began."},
        "updated_at": {**_TIME, "description": "When the record last changed."},
        "available_via": _typed(_NULL_STR, "How the agent took calls then."),
        "forwarded_to": _typed(_NULL_STR, "The agent's forwarding number then."),
        "duration": _typed(_NULL_INT, "Seconds of the leg; null while it goes on."),
        "talk_time": _typed(_NULL_INT, "Seconds of the leg, holds excluded."),
        "hold_time": _typed(_NULL_INT, "Seconds on hold in the leg."),
        "wrap_up_time": _typed(_NULL_INT, "Seconds of the agent's wrap-up after it."),
        "completion_status": _typed(_NULL_STR, "How the leg ended; null while it goes on."),
        "transferred_from": _typed(_NULL_INT, "The agent who transferred the call in."),
        "transferred_to": _typed(_NULL_INT, "The agent the call was transferred to."),
        "conference_to": _typed(_NULL_INT, "The agent invited to a conference."),
        "quality_issues": {"type": "array", "maxItems": 0, "description": _NOT_KNOWN},
        **{
            name: {"type": "null", "description": _NOT_KNOWN}
            for name in (
                "call_charge", "conference_from", "conference_time", "consultation_from",
                "consultation_time", "consultation_to", "minutes_billed",
            )
        },
    }
)  # fmt: skip


def _export(key: str, item: str) -> Schema:
    return _closed(
        {
            key: {"type": "array", "items": ref(item), "description": "By updated_at."},
            "count": _count("Records on this page"),
            "end_time": _typed("integer", "updated_at (Unix s) of the last record, or start_time."),
            "next_page": _typed(
                "string", "Where the next page, or the next poll, starts (never null).",
                format="uri",
            ),
        }
    )  # fmt: skip


_SERVICE_LEVEL: dict[str, Schema] = {
    "threshold": {
        "type": "integer",
        "minimum": 0,
        "maximum": 86_400,
        "description": "The threshold asked for (seconds).",
    },
    "answered_within": _count("Calls answered by an agent within the threshold"),
    "offered": _count("Calls whose queue wait finished (answered or not)"),
    "percent": {
        "type": ["number", "null"],
        "minimum": 0,
        "maximum": 100,
        "description": "answered_within / offered in percent, one decimal; null when offered is 0.",
    },
}

_AVAILABILITY: dict[str, Schema] = {
    "agent_state": _AGENT_STATE,
    "call_status": _CALL_STATUS,
    "via": _VIA,
}


def _page(key: str, item: Schema, what: str) -> Schema:
    """Zendesk's offset-paginated list: the rows, the total and the neighbouring pages."""
    link = {"type": ["string", "null"], "format": "uri"}
    return _closed(
        {
            key: {"type": "array", "items": item, "description": what},
            "count": _count("Rows in all pages together"),
            "next_page": {**link, "description": "URL of the next page; null on the last."},
            "previous_page": {
                **link,
                "description": "URL of the previous page; null on the first.",
            },
        }
    )


# --- records ---------------------------------------------------------------------------

_USER = _closed(
    {
        "id": _ID,
        "url": _URL,
        "name": {"type": "string"},
        "email": {"type": "string"},
        "role": {"type": "string", "enum": list(ROLES)},
        "avatar_url": {"type": ["string", "null"]},
        "active": {"type": "boolean"},
    }
)
_GROUP = _closed({"id": _ID, "url": _URL, "name": {"type": "string"}})
_MEMBERSHIP = _closed({"id": _ID, "url": _URL, "user_id": _ID, "group_id": _ID})
_PHONE_NUMBER = _closed(
    {
        "id": _ID,
        "url": _URL,
        "number": {"type": "string"},
        "display_number": {"type": "string", "description": "The number as it was created."},
        "name": {"type": "string", "description": "The nickname, else the number."},
        "nickname": {"type": ["string", "null"]},
        "voice_enabled": {"type": "boolean"},
    }
)
_API_TOKEN = _closed(
    {
        "id": _ID,
        "token": {"type": "string", "description": "The secret: shown in this response only."},
        "description": {"type": "string"},
        "user_id": {**_ID, "description": "The admin who created it (the token acts as them)."},
        "active": {"type": "boolean"},
    }
)


def _wrapped(key: str, inner: Schema) -> Schema:
    return _closed({key: inner})


_DISPLAY_LINK_FIELDS: dict[str, Schema] = {
    "id": _ID,
    "description": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    "active": {"type": "boolean", "description": "Not revoked: the link opens the wallboard."},
}
_DISPLAY_LINK = _closed(_DISPLAY_LINK_FIELDS)
_DISPLAY_LINK_CREATED = _closed(
    {
        **_DISPLAY_LINK_FIELDS,
        "token": {"type": "string", "description": "The secret: shown in this response only."},
        "url": {
            "type": "string",
            "format": "uri",
            "description": "What a screen opens: the wallboard, the token after '#'.",
        },
    }
)


# --- request bodies --------------------------------------------------------------------

# PostgreSQL's text cannot hold U+0000, so no text field of ours takes it (on any store).
_NO_NUL: Schema = {"not": {"type": "string", "pattern": "\\u0000"}}
_TEXT: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": bodies.MAX_TEXT,
    "pattern": f"[^{SPACE_CLASS}]",
    **_NO_NUL,
    "description": "Not blank; surrounding spaces are dropped; no U+0000.",
}
_NEW_ID: Schema = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}


def _record_body(key: str, fields: Mapping[str, Schema], required: Iterable[str]) -> Schema:
    """``{key: {...}}``: the create bodies. Unknown fields are ignored, so allowed."""
    inner = {"type": "object", "properties": dict(fields), "required": list(required)}
    return {"type": "object", "properties": {key: inner}, "required": [key]}


_S = SPACE_CLASS
_EMAIL = {
    "type": "string",
    "maxLength": bodies.MAX_TEXT,
    "pattern": f"^[{_S}]*[^@{_S}]+@[^{_S}]*\\.[^{_S}]*[{_S}]*$",
    **_NO_NUL,
    "description": "Unique within the account (case-insensitive).",
}

REQUEST_BODIES: dict[str, Schema] = {
    "UserCreate": _record_body(
        "user",
        {
            "name": _TEXT,
            "email": _EMAIL,
            "role": {
                "type": ["string", "null"],
                "enum": [*ROLES, None],
                "description": "Default end-user.",
            },
            "id": {
                **_NEW_ID,
                "description": "Choose the id (to mirror Zendesk's); default: the next free one.",
            },
            "password": {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": MAX_PASSWORD,
                "description": "Optional: a user without one signs in with API tokens only.",
            },
            "avatar_url": {"type": ["string", "null"], **_NO_NUL},
        },
        ["name", "email"],
    ),
    "GroupCreate": _record_body("group", {"name": _TEXT, "id": _NEW_ID}, ["name"]),
    "GroupMembershipCreate": _record_body(
        "group_membership",
        {"user_id": {**_ID, "description": "An agent or admin."}, "group_id": _ID},
        ["user_id", "group_id"],
    ),
    "PhoneNumberCreate": _record_body(
        "phone_number",
        {
            "number": _TEXT,
            "name": {**_nullable(_TEXT), "description": "The nickname."},
            "id": _NEW_ID,
        },
        ["number"],
    ),
    "ApiTokenCreate": {
        "description": "Optional: no body and {} also create a token.",
        "oneOf": [
            {"type": "object", "maxProperties": 0},
            _record_body("api_token", {"description": _nullable(_TEXT)}, []),
        ],
    },
    "DisplayLinkCreate": {
        "description": "Optional: no body and {} also create a link.",
        "oneOf": [
            {"type": "object", "maxProperties": 0},
            _record_body("display_link", {"description": _nullable(_TEXT)}, []),
        ],
    },
    "AvailabilityUpdate": _record_body(
        "availability",
        {
            "agent_state": {**_AGENT_STATE, "description": "The new Talk status."},
            "via": {**_VIA, "description": "Optional: where the agent takes calls."},
        },
        ["agent_state"],
    ),
}


# --- errors ----------------------------------------------------------------------------


def _error(codes: Iterable[str], *, description: bool = True, details: bool = False) -> Schema:
    properties: dict[str, Schema] = {
        "error": {"type": "string", "enum": list(codes), "description": "What kind of failure."}
    }
    if description:
        properties["description"] = {
            "type": "string",
            "description": "What went wrong, for a person.",
        }
    if details:
        problem = _closed(
            {
                "description": {"type": "string"},
                "error": {"type": "string", "description": "InvalidValue, DuplicateValue, ..."},
            }
        )
        properties["details"] = {
            "type": "object",
            "description": "The fields at fault, each with its problems.",
            "additionalProperties": {"type": "array", "items": problem, "minItems": 1},
        }
    return _closed(properties)


_LAG: dict[str, Any] = {
    "pid": {"type": "integer", "description": "The answering server process."},
    "events_behind": {
        "type": "integer",
        "minimum": 0,
        "description": "Log entries this process has not folded into its statistics yet, "
        "over all loaded accounts.",
    },
    "accounts_behind": {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 1},
        "description": "Subdomain -> entries not folded yet, for the accounts behind.",
    },
}

ERRORS: dict[str, Schema] = {
    "BadRequestError": _error(("InvalidValue", "TooManyValues")),
    "UnauthorizedError": _error(("Couldn't authenticate you",), description=False),
    "MetricsUnauthorizedError": _error(("Couldn't authenticate you",)),
    "ForbiddenError": _error(("Forbidden",)),
    "NotFoundError": _error(("RecordNotFound",)),
    "PayloadTooLargeError": _error(("PayloadTooLarge",)),
    "RecordInvalidError": _error(("RecordInvalid",), details=True),
    "TooManyRequestsError": _error(("TooManyRequests",)),
    "ServiceUnavailableError": _error(("ServiceUnavailable",)),
    "NotReadyError": _closed(
        {
            **_error(("ServiceUnavailable",))["properties"],
            "status": {"type": "string", "enum": ["unavailable", "loading", "behind"]},
            "accounts_loading": {
                "type": "array",
                "items": _closed(
                    {
                        "account": {"type": "string", "description": "The account's subdomain."},
                        "state": {"type": "string", "enum": ["loading", "queued"]},
                        "events_left": {
                            "type": ["integer", "null"],
                            "minimum": 0,
                            "description": "Events still to replay, when known.",
                        },
                    }
                ),
            },
            "events_left": {"type": ["integer", "null"], "minimum": 0},
            **_LAG,
        },
        optional=("accounts_loading", "events_left", "pid", "events_behind", "accounts_behind"),
    ),
}


# --- events ----------------------------------------------------------------------------


def event_component_name(kind: str) -> str:
    """``call.wrap_up_ended`` -> ``CallWrapUpEndedEvent``."""
    words = kind.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def _events(max_batch_events: int) -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    mapping: dict[str, str] = {}
    for kind, schema in event_schemas().items():
        name = event_component_name(kind)
        out[name] = schema
        mapping[kind] = REF_PREFIX + name
    out["Event"] = {
        "description": "One event; `type` says which (docs/events.md). Unknown fields are rejected.",
        "oneOf": [{"$ref": target} for target in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping},
    }
    out["EventBatch"] = {
        "type": "object",
        "properties": {
            "events": {
                "type": "array",
                "items": ref("Event"),
                "minItems": 1,
                "maxItems": max_batch_events,
            }
        },
        "required": ["events"],
    }
    result = _closed(
        {
            "index": {
                "type": "integer",
                "minimum": 0,
                "description": "Position in the request (NDJSON: non-blank lines from 0).",
            },
            "id": {
                "type": ["string", "null"],
                "description": "The event's id, when it had a readable one.",
            },
            "status": {"type": "string", "enum": ["accepted", "duplicate", "rejected"]},
            "error": {"type": ["string", "null"], "description": "Why it was rejected."},
            "field": {"type": ["string", "null"], "description": "The field at fault, if one is."},
        },
        optional=("error", "field"),
    )
    out["IngestionResponse"] = _closed(
        {
            "results": {
                "type": "array",
                "items": result,
                "description": "One per event, in order.",
            },
            "accepted": _count("Events stored and counted"),
            "duplicates": _count("Events whose id was already stored (nothing changed)"),
            "rejected": _count("Events refused (nothing of them stored)"),
        }
    )
    return out


# --- the whole set ---------------------------------------------------------------------


def components(*, max_batch_events: int) -> dict[str, Schema]:
    """Every named schema of the document."""
    responses: dict[str, Schema] = {
        "AccountOverviewResponse": _wrapped(
            "account_overview", _with_plans(_OVERVIEW_BASE, _OVERVIEW_PROFESSIONAL)
        ),
        "AgentActivity": _with_plans(_ACTIVITY_BASE, _ACTIVITY_PROFESSIONAL),
        "AgentsActivityResponse": _page(
            "agents_activity", ref("AgentActivity"), "One row per agent, in id order."
        ),
        "AgentsOverviewResponse": _wrapped(
            "agents_overview", _with_plans(_AGENTS_OVERVIEW_BASE, _AGENTS_OVERVIEW_PROFESSIONAL)
        ),
        "CurrentQueueActivityResponse": _wrapped("current_queue_activity", _closed(_QUEUE)),
        "ServiceLevelResponse": _wrapped("service_level", _closed(_SERVICE_LEVEL)),
        "TimelineResponse": _wrapped("timeline", _TIMELINE),
        "ExportCall": _EXPORT_CALL,
        "ExportLeg": _EXPORT_LEG,
        "IncrementalCallsResponse": _export("calls", "ExportCall"),
        "IncrementalLegsResponse": _export("legs", "ExportLeg"),
        "DisplayLink": _DISPLAY_LINK,
        "DisplayLinkResponse": _wrapped("display_link", _DISPLAY_LINK_CREATED),
        "DisplayLinksResponse": _page(
            "display_links", ref("DisplayLink"), "The account's display links, in id order."
        ),
        "AvailabilityResponse": _wrapped("availability", _closed(_AVAILABILITY)),
        "User": _USER,
        "Group": _GROUP,
        "GroupMembership": _MEMBERSHIP,
        "PhoneNumber": _PHONE_NUMBER,
        "ApiToken": _API_TOKEN,
        "UsersResponse": _page("users", ref("User"), "The account's users, in id order."),
        "GroupsResponse": _page("groups", ref("Group"), "The account's groups, in id order."),
        "GroupMembershipsResponse": _page(
            "group_memberships", ref("GroupMembership"), "The account's memberships, in id order."
        ),
        "PhoneNumbersResponse": _page(
            "phone_numbers", ref("PhoneNumber"), "The account's numbers, in id order."
        ),
        "UserResponse": _wrapped("user", ref("User")),
        "GroupResponse": _wrapped("group", ref("Group")),
        "GroupMembershipResponse": _wrapped("group_membership", ref("GroupMembership")),
        "PhoneNumberResponse": _wrapped("phone_number", ref("PhoneNumber")),
        "ApiTokenResponse": _wrapped("api_token", ref("ApiToken")),
        "PingResponse": _closed({"ping": {"type": "string", "const": "pong"}}),
        "HealthResponse": _closed({"status": {"type": "string", "const": "ok"}}),
        "ReadinessResponse": _closed({"status": {"type": "string", "const": "ready"}, **_LAG}),
    }
    return {**responses, **REQUEST_BODIES, **ERRORS, **_events(max_batch_events)}
