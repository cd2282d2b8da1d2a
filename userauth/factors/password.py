"""The password as a factor (RFC 8176 "pwd"): what re-authentication with a password checks.

Logging in with a password stays Credentials.login's (a rehash, the failure audit and the
timing of unknown emails live there); this module answers "is this the account's password".
"""

from __future__ import annotations

from userauth import passwords
from userauth.factors import PASSWORD_AMR
from userauth.models import User

AMR = PASSWORD_AMR


def proves(user: User, password: str) -> bool:
    """Tell whether the password is the account's (bcrypt; a legacy form matches too)."""
    return passwords.check(password, user.hashed_password) is not passwords.Match.NONE
