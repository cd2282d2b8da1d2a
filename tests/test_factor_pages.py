"""The second factor's pages through Flask's test client: TOTP on, the login's second step,
recovery codes, re-authentication, turning it off. Codes come from Debian's oathtool at the
fake clock's time (tests/second_factor.py), an implementation independent of the service's."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import FakeClock
from tests.second_factor import oathtool_code
from tests.test_pages import EMAIL, PASSWORD, log_in, sign_up, submit
from userauth.auth import Auth
from userauth.factors import totp
from userauth.settings import GateSettings, RateLimitSettings
from userauth.web import create_app
from userauth.web.qr import qr_svg

KEY = re.compile(r'<code class="secret" id="totp-key">([A-Z2-7 ]+)</code>')
CODES = re.compile(r"<li><code>([^<]+)</code></li>")
FIELD_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">([^<]+)</p>')

MakeClient = Callable[..., FlaskClient]

# The web surface, not the store: SQLite only (docs/development.md, "Which tests run on
# PostgreSQL"); the login's second step, which writes the session it completes, runs on both.
pytestmark = pytest.mark.databases("sqlite")


@pytest.fixture
def browser(make_auth: Callable[..., Auth]) -> FlaskClient:
    auth = make_auth(GateSettings(redirect_hosts=("app.example.com",)))
    return create_app(auth.settings, auth).test_client()


def text(answer: TestResponse) -> str:
    return html.unescape(answer.get_data(as_text=True))


def field_errors(answer: TestResponse) -> dict[str, str]:
    return dict(FIELD_ERROR.findall(text(answer)))


def begin(client: FlaskClient, **fields: str) -> TestResponse:
    """Press "Turn on two-factor authentication" on the account page."""
    return submit(client, "/auth/account/totp", "/auth/account", **fields)


def key_of(setup_page: TestResponse) -> str:
    found = KEY.search(text(setup_page))
    assert found is not None, text(setup_page)
    return found.group(1).replace(" ", "")


def confirm(client: FlaskClient, code: str) -> TestResponse:
    """Send the setup page's form with `code`, as the browser would."""
    return submit(client, "/auth/account/totp/confirm", "/auth/account", code=code)


def enrol(client: FlaskClient, clock: FakeClock) -> tuple[str, list[str]]:
    """Sign up (development logs in), turn TOTP on; return its key and the recovery codes."""
    sign_up(client)
    setup = begin(client)
    key = key_of(setup)
    shown = confirm(client, oathtool_code(key, clock()))
    assert shown.status_code == 200, text(shown)
    return key, CODES.findall(text(shown))


def log_out(client: FlaskClient) -> None:
    submit(client, "/auth/logout", "/auth/account")


def second_step(client: FlaskClient, code: str, **extra: str) -> TestResponse:
    return submit(client, "/auth/login/code", "/auth/login/code", code=code, **extra)


class TestTurningOn:
    def test_the_setup_page_shows_a_qr_code_and_the_key_within_the_csp(
        self, browser: FlaskClient
    ) -> None:
        sign_up(browser)
        setup = begin(browser)
        page = text(setup)
        assert setup.status_code == 200
        assert re.search(r'<svg viewBox="0 0 \d+ \d+" class="qr"><title>', page)
        assert re.fullmatch(r"[A-Z2-7]{16,}", key_of(setup))
        # The QR code is segno's drawing of the otpauth URI of that very key.
        uri = totp.provisioning_uri(key_of(setup), EMAIL)
        assert str(qr_svg(uri, "QR code of your account's two-factor key")) in page
        assert "style=" not in page
        assert "<script" not in page
        policy = setup.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "unsafe" not in policy

    def test_a_right_first_code_turns_it_on_and_shows_ten_recovery_codes_once(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        _key, codes = enrol(browser, clock)
        assert len(codes) == len(set(codes)) == 10
        account = text(browser.get("/auth/account"))
        assert "each login also asks for a code" in account
        assert "10 recovery codes left" in account
        assert not any(code in account for code in codes)

    def test_a_wrong_first_code_is_shown_next_to_the_field_with_the_same_key(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up(browser)
        setup = begin(browser)
        right = oathtool_code(key_of(setup), clock())
        wrong = confirm(browser, f"{(int(right) + 1) % 1_000_000:06d}")
        assert wrong.status_code == 400
        assert field_errors(wrong) == {"code": "wrong code"}
        assert key_of(wrong) == key_of(setup)
        assert confirm(browser, right).status_code == 200

    def test_turning_on_twice_says_it_is_on_already(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(browser, clock)
        answer = begin(browser)
        assert answer.location == "/auth/account"
        assert "already enabled" in text(browser.get("/auth/account"))


class TestRecoveryCodesDownload:
    def test_the_codes_shown_download_as_a_text_file(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        _key, codes = enrol(browser, clock)
        answer = submit(
            browser,
            "/auth/account/recovery-codes/download",
            "/auth/account",
            codes=" ".join(codes),
        )
        assert (answer.status_code, answer.mimetype) == (200, "text/plain")
        assert answer.headers["Content-Disposition"] == (
            'attachment; filename="recovery-codes.txt"'
        )
        body = answer.get_data(as_text=True)
        assert EMAIL in body
        assert body.splitlines()[-10:] == codes

    @pytest.mark.parametrize(
        "codes",
        ["", "<script>alert(1)</script>", "a b c", " ".join(["abcd-efgh"] * 21)],
        ids=["nothing", "markup", "too-short", "too-many"],
    )
    def test_what_is_not_recovery_codes_is_refused(self, browser: FlaskClient, codes: str) -> None:
        sign_up(browser)
        answer = submit(
            browser, "/auth/account/recovery-codes/download", "/auth/account", codes=codes
        )
        assert (answer.status_code, answer.mimetype) == (400, "text/html")

    def test_the_download_needs_a_session(self, browser: FlaskClient) -> None:
        answer = submit(
            browser, "/auth/account/recovery-codes/download", "/auth/login", codes="abcd-efgh"
        )
        assert answer.location == "/auth/login?next=/auth/account"


@pytest.mark.databases("sqlite", "postgres")
class TestLogInWithTheSecondFactor:
    def test_the_password_leads_to_the_code_step_and_no_session(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(browser, clock)
        log_out(browser)
        answer = log_in(browser, next="/dashboard")
        assert (answer.status_code, answer.location) == (
            302,
            "/auth/login/code?next=/dashboard",
        )
        cookies = answer.headers.getlist("Set-Cookie")
        assert any(c.startswith("login_challenge=") and "HttpOnly" in c for c in cookies)
        assert not any(c.startswith("session_id=") for c in cookies)
        assert browser.get("/profile").status_code == 403

    def test_a_code_from_the_app_logs_in_and_returns_to_next(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        key, _codes = enrol(browser, clock)
        log_out(browser)
        log_in(browser, next="https://app.example.com/x")
        clock.advance(seconds=30)
        answer = second_step(
            browser, oathtool_code(key, clock()), next="https://app.example.com/x"
        )
        assert (answer.status_code, answer.location) == (302, "https://app.example.com/x")
        assert browser.get("/profile").json == {"email": EMAIL}

    def test_a_wrong_code_is_a_401_with_the_error_next_to_the_field(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(browser, clock)
        log_out(browser)
        log_in(browser)
        answer = second_step(browser, "000000")
        assert answer.status_code == 401
        assert field_errors(answer) == {"code": "wrong code"}
        assert 'aria-invalid="true"' in text(answer)

    def test_the_step_offers_a_recovery_code_instead(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(browser, clock)
        log_out(browser)
        log_in(browser)
        step = text(browser.get("/auth/login/code?next=/auth/account"))
        link = re.search(r'<a href="([^"]+)">Use a recovery code instead</a>', step)
        assert link is not None
        recovery = text(browser.get(link.group(1)))
        assert '<label for="code">Recovery code</label>' in recovery
        assert 'name="use" value="recovery"' in recovery

    def test_a_recovery_code_logs_in_once(self, browser: FlaskClient, clock: FakeClock) -> None:
        _key, codes = enrol(browser, clock)
        log_out(browser)
        log_in(browser)
        assert second_step(browser, codes[0], use="recovery").location == "/auth/account"
        assert "9 recovery codes left" in text(browser.get("/auth/account"))
        log_out(browser)
        log_in(browser)
        again = second_step(browser, codes[0], use="recovery")
        assert again.status_code == 401
        assert field_errors(again) == {"code": "wrong code"}

    def test_without_a_pending_login_the_step_sends_back_to_the_login_page(
        self, browser: FlaskClient
    ) -> None:
        answer = browser.get("/auth/login/code?next=/dashboard")
        assert answer.location == "/auth/login?next=/dashboard"

    def test_a_pending_login_past_five_minutes_starts_over(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        key, _codes = enrol(browser, clock)
        log_out(browser)
        log_in(browser)
        clock.advance(minutes=6)
        answer = second_step(browser, oathtool_code(key, clock()))
        assert answer.location == "/auth/login?next=/auth/account"
        assert "Your login expired" in text(browser.get("/auth/login"))


class TestLimits:
    def test_the_page_and_the_api_count_codes_in_one_bucket(
        self, make_auth: Callable[..., Auth], clock: FakeClock
    ) -> None:
        auth = make_auth(RateLimitSettings(login="3/minute"))
        client = create_app(auth.settings, auth).test_client()
        enrol(client, clock)
        log_out(client)
        log_in(client)
        for _ in range(2):
            assert client.post("/sessions/second-factor", data={"code": "000000"}).status_code == (
                401
            )
        assert second_step(client, "000000").status_code == 401
        refused = second_step(client, "000000")
        assert refused.status_code == 429
        assert "Too many attempts" in text(refused)


class TestReauthentication:
    def test_past_the_window_turning_on_asks_for_the_password_then_goes_on(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up(browser)
        clock.advance(minutes=11)
        asked = begin(browser)
        assert asked.status_code == 401
        assert "Turning on two-factor authentication needs a recent login" in text(asked)
        assert 'action="/auth/account/totp"' in text(asked)
        went_on = begin(browser, reauth_password=PASSWORD)
        assert went_on.status_code == 200
        assert key_of(went_on)

    def test_a_stale_session_is_asked_to_log_in_again_and_never_shown_the_key(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up(browser)
        key = key_of(begin(browser))
        clock.advance(minutes=11)
        for code in ("000000", oathtool_code(key, clock())):
            asked = confirm(browser, code)
            assert asked.status_code == 401
            assert "needs a recent login" in text(asked)
            assert key not in text(asked).replace(" ", "")
        assert "recovery codes left" not in text(browser.get("/auth/account"))

    def test_a_wrong_password_is_shown_next_to_the_field(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up(browser)
        clock.advance(minutes=11)
        answer = begin(browser, reauth_password="not the password")
        assert answer.status_code == 403
        assert field_errors(answer) == {"reauth_password": "current password is wrong"}

    def test_with_totp_on_a_code_also_does_and_turning_off_goes_on(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        key, _codes = enrol(browser, clock)
        clock.advance(minutes=11)
        asked = submit(browser, "/auth/account/totp/disable", "/auth/account")
        assert asked.status_code == 401
        assert '<label for="reauth_code">' in text(asked)
        done = submit(
            browser,
            "/auth/account/totp/disable",
            "/auth/account",
            reauth_code=oathtool_code(key, clock()),
        )
        assert done.location == "/auth/account"
        assert "Two-factor authentication is off." in text(browser.get("/auth/account"))
        log_out(browser)
        assert log_in(browser).location == "/auth/account"

    def test_new_recovery_codes_replace_the_old_ones(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        _key, old = enrol(browser, clock)
        answer = submit(browser, "/auth/account/recovery-codes", "/auth/account")
        new = CODES.findall(text(answer))
        assert answer.status_code == 200
        assert len(new) == 10
        assert not set(new) & set(old)
        log_out(browser)
        log_in(browser)
        assert second_step(browser, old[0], use="recovery").status_code == 401
        assert second_step(browser, new[0], use="recovery").location == "/auth/account"


class TestCsrfAndRendering:
    @pytest.mark.parametrize(
        "path",
        [
            "/auth/login/code",
            "/auth/account/totp",
            "/auth/account/totp/confirm",
            "/auth/account/totp/disable",
            "/auth/account/recovery-codes",
            "/auth/account/recovery-codes/download",
        ],
    )
    def test_a_post_without_the_forms_token_is_refused(
        self, browser: FlaskClient, path: str
    ) -> None:
        sign_up(browser)
        answer = browser.post(path, data={"code": "123456", "reauth_password": PASSWORD})
        assert answer.status_code == 400
        assert "came from another site" in answer.get_data(as_text=True)

    def test_every_new_page_labels_its_fields_under_the_strict_csp(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        sign_up(browser)
        clock.advance(minutes=11)
        asked = begin(browser)
        setup = begin(browser, reauth_password=PASSWORD)
        codes = confirm(browser, oathtool_code(key_of(setup), clock()))
        log_out(browser)
        log_in(browser)
        step = browser.get("/auth/login/code")
        for answer in (asked, setup, codes, step):
            page = text(answer)
            for field_id in re.findall(r'<input id="([^"]+)" name="[^"]+" type="(?!hidden)', page):
                assert f'<label for="{field_id}">' in page
            assert "style=" not in page
            # Only the pages' own script file (issue 25: passkeys), nothing inline.
            scripts = set(re.findall(r"<script[^>]*>.*?</script>", page, flags=re.S))
            assert scripts <= {'<script src="/auth/static/passkeys.js" defer></script>'}
            assert "unsafe" not in answer.headers["Content-Security-Policy"]


class TestTwoFactorsWanted:
    """The gate's redirect mode sends `?aal=2` when the app wants two factors."""

    def test_a_one_factor_session_logs_in_again_with_a_code(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        key, _codes = enrol(browser, clock)
        asked = browser.get("/auth/login?aal=2&next=/dashboard")
        assert asked.status_code == 200
        assert "needs two-factor authentication: log in again" in text(asked)
        assert f'value="{EMAIL}"' in text(asked)
        again_in = submit(
            browser,
            "/auth/login",
            "/auth/login?aal=2&next=/dashboard",
            email=EMAIL,
            password=PASSWORD,
            next="/dashboard",
        )
        assert again_in.location == "/auth/login/code?next=/dashboard"
        clock.advance(seconds=30)
        assert second_step(browser, oathtool_code(key, clock()), next="/dashboard").location == (
            "/dashboard"
        )
        again = browser.get("/auth/login?aal=2&next=/dashboard")
        assert (again.status_code, again.location) == (302, "/dashboard")

    def test_the_gates_redirect_mode_asks_a_one_factor_session_to_log_in_again(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(browser, clock)
        forwarded = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "app.example.com",
            "X-Forwarded-Uri": "/admin",
        }
        assert browser.get("/auth/verify?redirect=true", headers=forwarded).status_code == 200
        sent = browser.get("/auth/verify?aal=2&redirect=true", headers=forwarded)
        assert sent.status_code == 302
        assert sent.location == ("/auth/login?next=https%3A%2F%2Fapp.example.com%2Fadmin&aal=2")
        asked = browser.get(sent.location)
        assert asked.status_code == 200
        assert "log in again" in text(asked)

    def test_an_account_without_a_second_factor_is_told_to_turn_one_on(
        self, browser: FlaskClient
    ) -> None:
        sign_up(browser)
        answer = browser.get("/auth/login?aal=2&next=/dashboard")
        assert answer.status_code == 403
        assert "your account does not have it yet" in text(answer)
        assert 'href="/auth/account"' in text(answer)

    def test_without_the_demand_a_logged_in_visitor_goes_on(
        self, browser: FlaskClient, clock: FakeClock
    ) -> None:
        enrol(browser, clock)
        answer = browser.get("/auth/login?next=/dashboard")
        assert (answer.status_code, answer.location) == (302, "/dashboard")
