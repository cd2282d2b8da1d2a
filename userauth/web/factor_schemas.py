"""The second-factor routes' declarations (web/factor_routes.py), beside web/schemas.py's."""

from __future__ import annotations

from typing import Any

from apiflask import Schema
from apiflask.fields import DateTime, Integer, List, Nested, String
from apiflask.validators import Length
from marshmallow import ValidationError, validates_schema

from userauth.web.schemas import _Body, _field

# A TOTP code is 6 digits, a recovery code 14 characters with its dashes; room for spaces.
MAX_CODE_LENGTH = 64


class Code(_Body):
    code = _field("A TOTP code, or a recovery code.", max_length=MAX_CODE_LENGTH)


class Reauthentication(_Body):
    password = String(
        validate=Length(max=4096, error="is too long"),
        metadata={"description": "The account's password (or give `code`)."},
    )
    code = String(
        validate=Length(max=MAX_CODE_LENGTH, error="is too long"),
        metadata={"description": "A TOTP code or a recovery code (or give `password`)."},
    )

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_: Any) -> None:
        if not (data.get("password") or data.get("code")):
            raise ValidationError("password or code is required")


class TotpBegun(Schema):
    secret = String(required=True, metadata={"description": "The seed, base32 (RFC 4648)."})
    otpauth_uri = String(required=True, metadata={"description": "For the QR code."})


class RecoveryCodes(Schema):
    message = String(required=True)
    recovery_codes = List(String(), required=True, metadata={"description": "Shown once."})


class FactorView(Schema):
    type = String(required=True, metadata={"description": '"totp"'})
    created_at = DateTime(required=True)
    last_used_at = DateTime(allow_none=True, required=True)


class FactorList(Schema):
    factors = List(Nested(FactorView), required=True)
    recovery_codes_left = Integer(required=True)
