"""The contract's `auth` module (SPEC.md A): Auth and its two helpers."""

from userauth.auth import Auth, _generate_uuid, _hash_password

__all__ = ["Auth", "_generate_uuid", "_hash_password"]
