"""The passkey routes' declarations (web/passkey_routes.py), beside web/schemas.py's."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Length

from userauth.emails import MAX_EMAIL_LENGTH
from userauth.passkey_terms import MAX_NAME_LENGTH
from userauth.web.schemas import _Body, _field, _utf8

_CREDENTIAL = (
    "The object navigator.credentials.{}() gave, in its WebAuthn Level 3 JSON form "
    "(PublicKeyCredential.toJSON())."
)


def _credential(ceremony: str) -> Dict:
    return Dict(
        required=True,
        error_messages={
            "required": "is required",
            "null": "is required",
            "invalid": "is not an object",
        },
        metadata={"description": _CREDENTIAL.format(ceremony)},
    )


class PasskeyRegistration(_Body):
    credential = _credential("create")
    name = String(
        validate=[Length(max=MAX_NAME_LENGTH, error="is too long"), _utf8],
        metadata={"description": 'What to call it ("Laptop"); "Passkey" when left out.'},
    )


class PasskeyAssertion(_Body):
    credential = _credential("get")


class SignUpEmail(_Body):
    email = _field("The new account's email.", max_length=MAX_EMAIL_LENGTH, format="email")


class PasskeyName(_Body):
    name = _field("The passkey's new name.", max_length=MAX_NAME_LENGTH)


class PasskeyAdded(Schema):
    id = Integer(required=True)
    name = String(required=True)
    created_at = DateTime(required=True)


class PasskeyView(Schema):
    id = Integer(required=True)
    name = String(required=True)
    created_at = DateTime(required=True)
    last_used_at = DateTime(allow_none=True)
    backed_up = Boolean(metadata={"description": "Synced to other devices (a synced passkey)."})


class PasskeyList(Schema):
    passkeys = List(Nested(PasskeyView), required=True)


class CreationOptions(Schema):
    """PublicKeyCredentialCreationOptions in WebAuthn Level 3's JSON form (5.4, as
    webauthn.options_to_json writes it)."""

    rp = Dict(required=True, metadata={"description": "The relying party: id, name."})
    user = Dict(
        required=True,
        metadata={"description": "id (the random user handle, base64url), name, displayName."},
    )
    challenge = String(required=True, metadata={"description": "base64url"})
    pubKeyCredParams = List(Dict(), required=True, metadata={"description": "type, alg."})
    timeout = Integer(metadata={"description": "Milliseconds."})
    excludeCredentials = List(
        Dict(), metadata={"description": "The account's passkeys: type, id, transports."}
    )
    authenticatorSelection = Dict(
        metadata={"description": "residentKey, requireResidentKey, userVerification."}
    )
    attestation = String(metadata={"description": "Always none."})


class RequestOptions(Schema):
    """PublicKeyCredentialRequestOptions in WebAuthn Level 3's JSON form (5.5)."""

    challenge = String(required=True, metadata={"description": "base64url"})
    timeout = Integer(metadata={"description": "Milliseconds."})
    rpId = String(metadata={"description": "The relying party's id."})
    allowCredentials = List(
        Dict(),
        metadata={"description": "Empty for a discoverable login, else the account's passkeys."},
    )
    userVerification = String(metadata={"description": "Always required."})
