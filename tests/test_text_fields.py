"""Hostile text in every field of every route and page: a 4xx or the usual answer, never a 5xx.

Each text field that a route or a page reads (a form or JSON body, the query string, a path
segment) is sent, one at a time, with NUL, 251, 4,096 and 4,097 characters, a lone surrogate
and control characters, in development and in production, on SQLite and PostgreSQL. The
other fields hold good values (a live account's email, session, reset token and form token),
so the bad value travels as far into the service as it can.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from urllib.parse import quote, urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import GENEROUS_LIMITS
from tests.smtp import MailSink, Service, ServiceFactory
from userauth.admin import Admin
from userauth.web.routes import RESET_SENT

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another horse battery"
DOMAIN = "@example.com"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM = "application/x-www-form-urlencoded"

# Stand-ins for the live values of each case's own account, filled in when it is sent.
ACCOUNT_EMAIL = "<the account's email>"
NEW_EMAIL = "<an email with no account>"
TOKEN = "<a live reset token>"
FORM_TOKEN = "<the page's form token>"
SESSION_NUMBER = "<the session's number>"


def _cut(good: str) -> int:
    """Where a value is spliced into a good one: before the @ of an email, else mid-way."""
    return good.index("@") if "@" in good else len(good) // 2


def _splice(extra: str) -> Callable[[str], str]:
    return lambda good: good[: _cut(good)] + extra + good[_cut(good) :]


def _characters(length: int) -> Callable[[str], str]:
    """A value of exactly `length` characters: an email stays an email, just too long."""

    def build(good: str) -> str:
        if "@" in good:
            return "a" * (length - len(DOMAIN)) + DOMAIN
        return (good + "x" * length)[:length]

    return build


HOSTILE: dict[str, Callable[[str], str]] = {
    "nul": _splice("\x00"),
    "251-characters": _characters(251),
    "4096-characters": _characters(4096),
    "4097-characters": _characters(4097),
    # Sent in JSON as the escape \ud800; a form or URL carries its UTF-8-like bytes
    # %ED%A0%80, which are not UTF-8 (what a client that encodes it anyway sends).
    "lone-surrogate": _splice("\ud800"),
    "control-characters": _splice("\x01\x08\x1b\t\r\n\x7f"),
}


@dataclass(frozen=True)
class Target:
    """A route or page that reads text, and a good value of each field it reads.

    `where` is how the fields travel: "json" or "form" (the API), "page" (a page's form,
    with its form token), "query" or "path" (in the URL).
    """

    method: str
    path: str
    fields: dict[str, str]
    where: str
    logged_in: bool = False
    form_page: str = ""
    html: bool = False


API_BODIES = {
    "register": ("POST", "/users", {"email": NEW_EMAIL, "password": PASSWORD}),
    "login": ("POST", "/sessions", {"email": ACCOUNT_EMAIL, "password": PASSWORD}),
    "request-reset": ("POST", "/reset_password", {"email": ACCOUNT_EMAIL}),
    "reset": (
        "PUT",
        "/reset_password",
        {"email": ACCOUNT_EMAIL, "reset_token": TOKEN, "new_password": NEW_PASSWORD},
    ),
    "change-password": (
        "PUT",
        "/profile/password",
        {"password": PASSWORD, "new_password": NEW_PASSWORD},
    ),
}


def _page(
    path: str, fields: dict[str, str], *, logged_in: bool = False, form_page: str = ""
) -> Target:
    return Target(
        "POST",
        path,
        {**fields, "csrf_token": FORM_TOKEN},
        "page",
        logged_in=logged_in,
        form_page=form_page or path,
        html=True,
    )


TARGETS: dict[str, Target] = {
    **{
        f"{name}-{where}": Target(method, path, fields, where, logged_in=name == "change-password")
        for name, (method, path, fields) in API_BODIES.items()
        for where in ("form", "json")
    },
    "revoke-session-number": Target(
        "DELETE", "/sessions/{}", {"number": SESSION_NUMBER}, "path", logged_in=True
    ),
    "gate-query": Target("GET", "/auth/verify", {"redirect": "true"}, "query", logged_in=True),
    "login-page": _page(
        "/auth/login", {"email": ACCOUNT_EMAIL, "password": PASSWORD, "next": "/auth/account"}
    ),
    "signup-page": _page(
        "/auth/signup", {"email": NEW_EMAIL, "password": PASSWORD, "next": "/auth/account"}
    ),
    "forgot-page": _page("/auth/forgot", {"email": ACCOUNT_EMAIL}),
    # The form is shown only for a live link (a dead one says so when opened).
    "reset-page": _page(
        "/auth/reset",
        {"token": TOKEN, "new_password": NEW_PASSWORD},
        form_page=f"/auth/reset?token={TOKEN}",
    ),
    "change-password-page": _page(
        "/auth/account/password",
        {"password": PASSWORD, "new_password": NEW_PASSWORD},
        logged_in=True,
        form_page="/auth/account",
    ),
    "logout-page": _page("/auth/logout", {}, logged_in=True, form_page="/auth/account"),
    "revoke-others-page": _page(
        "/auth/account/sessions/revoke-others", {}, logged_in=True, form_page="/auth/account"
    ),
    # A page: any public id reaches it, and a request without its form's token is refused
    # with the page's own 400.
    "revoke-page-number": Target(
        "POST", "/auth/account/sessions/{}/revoke", {"number": SESSION_NUMBER}, "path", html=True
    ),
    "login-page-next": Target("GET", "/auth/login", {"next": "/auth/account"}, "query", html=True),
    "signup-page-next": Target(
        "GET", "/auth/signup", {"next": "/auth/account"}, "query", html=True
    ),
    "reset-page-token": Target("GET", "/auth/reset", {"token": TOKEN}, "query", html=True),
    "mailed-reset-link": Target("GET", "/reset_password", {"token": TOKEN}, "query", html=True),
}


@dataclass(frozen=True)
class Case:
    """One account's live values, and a client that holds its session when the target needs one."""

    client: FlaskClient
    values: dict[str, str]

    def fill(self, value: str) -> str:
        for stand_in, live in self.values.items():
            value = value.replace(stand_in, live)
        return value


_numbers = count(1)


def open_case(service: Service, target: Target) -> Case:
    """Make a fresh account with a live session and reset token, and a client for it."""
    email = f"user{next(_numbers)}{DOMAIN}"
    auth = service.auth
    auth.register_user(email, PASSWORD)
    client = service.app.test_client()
    values = {
        ACCOUNT_EMAIL: email,
        NEW_EMAIL: f"new{next(_numbers)}{DOMAIN}",
        TOKEN: auth.get_reset_password_token(email),
        SESSION_NUMBER: "1",
    }
    if target.logged_in:
        session_id = auth.create_session(email)
        assert session_id is not None
        client.set_cookie(auth.settings.session_cookie_name, session_id)
        live = auth.require_session(session_id)
        values[SESSION_NUMBER] = str(auth.list_sessions(live)[0].id)
    if target.where == "page":
        form_page = target.form_page
        for stand_in, value in values.items():
            form_page = form_page.replace(stand_in, value)
        page = client.get(form_page).get_data(as_text=True)
        found = CSRF.search(page)
        assert found is not None, page[:500]
        values[FORM_TOKEN] = found.group(1)
    return Case(client, values)


def _query(fields: dict[str, str]) -> str:
    # A lone surrogate becomes the bytes %ED%A0%80, as a client that encodes it anyway sends.
    return urlencode(fields, errors="surrogatepass")


def send(case: Case, target: Target, name: str, value: str) -> TestResponse:
    """Send the target's good fields, but `name` holds `value`."""
    fields = {key: case.fill(good) for key, good in target.fields.items()}
    fields[name] = value
    client = case.client
    if target.where == "json":
        return client.open(target.path, method=target.method, json=fields)
    if target.where in {"form", "page"}:
        body = _query(fields).encode("ascii")
        return client.open(target.path, method=target.method, data=body, content_type=FORM)
    if target.where == "query":
        return client.open(f"{target.path}?{_query(fields)}", method=target.method)
    segment = quote(value, safe="", errors="surrogatepass")
    return client.open(target.path.format(segment), method=target.method)


def problem_with(answer: TestResponse, target: Target) -> str | None:
    """Say what is wrong with an answer, or None: no 5xx, and the documented kind of body."""
    status = answer.status_code
    if status >= 500:
        return f"{status}: {answer.get_data(as_text=True)[:200]}"
    if 300 <= status < 400:
        return None if answer.location else f"{status} without a Location"
    if target.html:
        return None if answer.mimetype == "text/html" else f"{status} as {answer.mimetype}"
    if not answer.is_json:
        return f"{status} as {answer.mimetype}"
    body = answer.get_json()
    if status >= 400 and not (
        isinstance(body, dict) and list(body) == ["message"] and str(body["message"]).strip()
    ):
        return f"{status} with the body {body!r}"
    return None


@pytest.fixture(params=["development", "production"])
def service(request: pytest.FixtureRequest, make_service: ServiceFactory) -> Service:
    """An app in either environment; limits on (production requires them), but generous."""
    environment: str = request.param
    return make_service(environment, GENEROUS_LIMITS)


class TestHostileText:
    @pytest.mark.parametrize("target", list(TARGETS.values()), ids=list(TARGETS))
    def test_no_field_answers_a_5xx_or_an_undocumented_body(
        self, service: Service, target: Target, caplog: pytest.LogCaptureFixture
    ) -> None:
        problems = []
        for name in target.fields:
            for kind, make in HOSTILE.items():
                case = open_case(service, target)
                value = make(case.fill(target.fields[name]))
                problem = problem_with(send(case, target, name, value), target)
                if problem is not None:
                    problems.append(f"{name} with {kind}: {problem}")
        assert problems == []
        # Nor a traceback in the log, even one a library swallowed (a rate limit's key).
        errors = [
            record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR
        ]
        assert errors == []


# Emails that no account can have: no stored email holds NUL or is over 250 characters.
IMPOSSIBLE_EMAILS = {
    "nul": "ada\x00@example.com",
    "251-characters": "a" * 239 + DOMAIN,
    "4096-characters": "a" * (4096 - len(DOMAIN)) + DOMAIN,
}


class TestProductionRevealsNothing:
    """Production answers an email no account can have like any unknown email (SPEC.md C3)."""

    @pytest.mark.parametrize(
        "email", list(IMPOSSIBLE_EMAILS.values()), ids=list(IMPOSSIBLE_EMAILS)
    )
    def test_a_reset_request_answers_as_for_any_email_and_queues_no_mail(
        self, make_service: ServiceFactory, email: str
    ) -> None:
        service = make_service("production", GENEROUS_LIMITS)

        answer = service.client.post("/reset_password", data={"email": email})

        assert (answer.status_code, answer.get_json()) == (
            200,
            {"email": email, "message": RESET_SENT},
        )
        service.outbox.join()
        # A queued job records reset_requested when it runs: none was queued.
        assert [event.event for event in Admin(service.auth).audit_events()] == []

    def test_the_forgot_page_answers_as_for_any_email(self, make_service: ServiceFactory) -> None:
        service = make_service("production", GENEROUS_LIMITS)
        client = service.client
        page = client.get("/auth/forgot").get_data(as_text=True)
        found = CSRF.search(page)
        assert found is not None

        answer = client.post(
            "/auth/forgot",
            data={"csrf_token": found.group(1), "email": IMPOSSIBLE_EMAILS["251-characters"]},
        )

        assert answer.status_code == 200
        assert "If this email has an account" in answer.get_data(as_text=True)

    def test_a_sign_up_of_a_taken_email_after_300_line_breaks_mails_its_owner(
        self, make_service: ServiceFactory, mail: MailSink
    ) -> None:
        service = make_service("production", GENEROUS_LIMITS)
        service.auth.register_user("ada@example.com", PASSWORD)

        # Trimmed, it is ada's; as given, it is longer than a mail job's column.
        service.auth.sign_up("\n" * 300 + "ada@example.com", "yet another password")

        assert len(mail.wait_for("ada@example.com")) == 1
