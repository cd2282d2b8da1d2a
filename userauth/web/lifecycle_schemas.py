"""The account lifecycle routes' declarations (web/lifecycle_routes.py), beside schemas.py's."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Raw, String

from userauth.web.schemas import _Body, _field

# A token is 22 URL-safe characters (tokens.new_token); room for a pasted link's spaces.
MAX_TOKEN_LENGTH = 256


class VerificationToken(_Body):
    token = _field("The token of the mailed link.", max_length=MAX_TOKEN_LENGTH)


class EmailChange(_Body):
    new_email = _field("The address the account moves to, once the link mailed to it is used.")


class EmailChanged(Schema):
    email = String(required=True, metadata={"description": "The account's new address."})
    message = String(required=True)


class Me(Schema):
    id = Integer(required=True)
    email = String(required=True)
    email_verified = Boolean(required=True)
    created_at = DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "None for accounts made before userauth dated them."},
    )
    factors = List(
        String(),
        required=True,
        metadata={"description": 'The confirmed second factors\' types, e.g. ["totp"].'},
    )


class AccountExport(Schema):
    profile = Dict(
        required=True,
        metadata={"description": "id, email, email_verified, email_verified_at, created_at."},
    )
    sessions = List(Raw(), required=True, metadata={"description": "No session ids."})
    factors = List(Raw(), required=True, metadata={"description": "Type and dates only."})
    recovery_codes_left = Integer(required=True)
    passkeys = List(Raw(), required=True, metadata={"description": "Metadata only."})
    audit_events = List(Raw(), required=True)
