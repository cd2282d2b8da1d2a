"""Domain exceptions. They carry no HTTP status: web/errors.py maps them in one table.

Where the contract promises a built-in exception (ValueError), the domain exception
subclasses it too, so programs written against SPEC.md keep catching what they expect.
"""


class AuthError(Exception):
    """Base of every userauth domain error; `str(error)` is safe to show to the caller."""


class EmailTakenError(AuthError, ValueError):
    """Registration for an email that already has an account."""

    def __init__(self, email: str) -> None:
        super().__init__(f"User {email} already exists")
        self.email = email


class InvalidEmailError(AuthError, ValueError):
    """The email is not a syntactically valid address."""


class PasswordPolicyError(AuthError, ValueError):
    """The new password breaks a rule of the password policy; the message names the rule."""


class UnknownEmailError(AuthError, ValueError):
    """No account has this email (raised where the contract says so)."""

    def __init__(self, email: str) -> None:
        super().__init__("no account with this email")
        self.email = email


class InvalidTokenError(AuthError, ValueError):
    """A reset token that is unknown, used already, expired, or for another account."""

    def __init__(self) -> None:
        super().__init__("invalid or expired reset token")


class InvalidSessionError(AuthError):
    """No live session has this id."""

    def __init__(self) -> None:
        super().__init__("no valid session")


class WrongPasswordError(AuthError):
    """The current password given to confirm a change is wrong."""

    def __init__(self) -> None:
        super().__init__("current password is wrong")


class UnknownFieldError(AuthError, ValueError):
    """An update names something that is not a user attribute."""


class SessionNotFoundError(AuthError):
    """The session to revoke is not one of the caller's."""

    def __init__(self) -> None:
        super().__init__("no such session")


class LoginChallengeError(AuthError):
    """No live pending login for this challenge: unknown, expired, spent, out of attempts, or
    made before the account's credentials changed. The login must start again."""

    def __init__(self) -> None:
        super().__init__("login expired; log in again")


class WrongCodeError(AuthError):
    """A second-factor code (TOTP or recovery code) that is wrong, or was used already."""

    def __init__(self) -> None:
        super().__init__("wrong code")


class TooManyCodesError(AuthError):
    """The account's budget of wrong second-factor codes is spent for now."""

    def __init__(self) -> None:
        super().__init__("too many attempts; try again later")


class ReauthenticationRequiredError(AuthError):
    """A sensitive action needs an authentication more recent than the session has."""

    def __init__(self) -> None:
        super().__init__("re-authentication required")


class FactorAlreadyEnabledError(AuthError):
    """The account already has this factor enabled."""

    def __init__(self) -> None:
        super().__init__("two-factor authentication is already enabled")


class NoPendingEnrolmentError(AuthError):
    """A confirmation with no enrolment begun (POST /factors/totp first)."""

    def __init__(self) -> None:
        super().__init__("no two-factor enrolment to confirm; start one first")


class FactorNotFoundError(AuthError):
    """The account has no such factor enabled."""

    def __init__(self) -> None:
        super().__init__("two-factor authentication is not enabled")


class UnreadableSecretError(AuthError):
    """An encrypted secret that none of the configured keys opens (USERAUTH_ENCRYPTION_KEYS)."""

    def __init__(self) -> None:
        super().__init__("a stored secret cannot be decrypted with the configured keys")


class InvalidLinkError(InvalidTokenError):
    """A verification, change-of-email or invitation token that is unknown, used, expired,
    another purpose's, or bound to an address it no longer matches."""

    def __init__(self) -> None:
        AuthError.__init__(self, "invalid or expired link")


class SignupClosedError(AuthError):
    """USERAUTH_SIGNUP is `closed`, or `invite` and the sign-up carries no invitation."""

    def __init__(self, mode: str) -> None:
        super().__init__(
            "sign-up is closed" if mode == "closed" else "sign-up needs an invitation"
        )
        self.mode = mode


class EmailNotVerifiedError(AuthError):
    """USERAUTH_EMAIL_VERIFICATION=required: the account's address is not verified yet; a
    fresh link is on its way."""

    def __init__(self) -> None:
        super().__init__("email not verified")


class PasskeyRegistrationError(AuthError, ValueError):
    """A passkey registration that is refused: a response that does not verify (origin, RP
    ID, signature, user verification), a challenge that is unknown, spent or expired, or a
    credential registered already."""

    def __init__(self) -> None:
        super().__init__("passkey registration failed; start again")


class PasskeyLoginError(AuthError):
    """A passkey login that is refused: unknown credential, another account's, a response
    that does not verify, or a challenge unknown, spent or expired. Nothing changes."""

    def __init__(self) -> None:
        super().__init__("passkey not accepted")


class PasskeyNotFoundError(AuthError):
    """The account has no passkey with this id."""

    def __init__(self) -> None:
        super().__init__("no such passkey")


class LastCredentialError(AuthError):
    """Removing this would leave the account with no way to log in."""

    def __init__(self) -> None:
        super().__init__("this is the account's last way to log in; add another first")
