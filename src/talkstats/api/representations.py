"""Zendesk-shaped JSON objects for our records (never a password or token hash)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..store.base import ApiToken, Group, Membership, PhoneNumber, User


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/api/v2"


def user(base: str, u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "url": f"{base}/users/{u.id}.json",
        "name": u.name,
        "email": u.email,
        "role": u.role,
        "avatar_url": u.avatar_url,
        "active": True,
    }


def group(base: str, g: Group) -> dict[str, Any]:
    return {"id": g.id, "url": f"{base}/groups/{g.id}.json", "name": g.name}


def membership(base: str, m: Membership) -> dict[str, Any]:
    return {
        "id": m.id,
        "url": f"{base}/group_memberships/{m.id}.json",
        "user_id": m.user_id,
        "group_id": m.group_id,
    }


def phone_number(base: str, n: PhoneNumber) -> dict[str, Any]:
    return {
        "id": n.id,
        "url": f"{base}/channels/voice/phone_numbers/{n.id}.json",
        "number": n.number,
        "display_number": n.number,
        "name": n.name or n.number,
        "nickname": n.name or None,
        "voice_enabled": True,
    }


def api_token(t: ApiToken, token: str) -> dict[str, Any]:
    return {
        "id": t.id,
        "token": token,
        "description": t.description,
        "user_id": t.user_id,
        "active": True,
    }
