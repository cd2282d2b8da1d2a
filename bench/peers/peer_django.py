"""Peer: Django's own session authentication, one `login_required` JSON view returning the email.

Written from Django's docs: "Using the Django authentication system" (`authenticate`,
`login`, `login_required`: https://docs.djangoproject.com/en/5.2/topics/auth/default/),
"How to use sessions" with the default database backend
(https://docs.djangoproject.com/en/5.2/topics/http/sessions/), the middleware that
`startproject` lists, and "Password management" for bcrypt
(`BCryptSHA256PasswordHasher`, cost 12: https://docs.djangoproject.com/en/5.2/topics/auth/passwords/).
Semantics: the session key sits in the `sessionid` cookie; each request reads the session
row (django_session) and then the user (auth_user), and checks the session's HMAC of the
password hash, so a session is revocable per session (its row) and per user (a new
password). Settings are in this module (`settings.configure`), as a single-file project.

Served by the benchmark in the setup Django's deployment docs give
(https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/gunicorn/: `gunicorn
peer_django:application`, workers as gunicorn's docs advise) and under granian's WSGI
interface with userauth's settings; DATABASE_URL (sqlite:/// or postgresql+psycopg://) and
PEER_SCHEMA on PostgreSQL. `python peer_django.py seed USERS SESSIONS OUT` writes the
accounts and the Cookie header of SESSIONS users logged in with `django.contrib.auth.login`.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit

import django
from django.conf import settings


def _database() -> dict[str, Any]:
    url = urlsplit(os.environ["DATABASE_URL"])
    if url.scheme.startswith("sqlite"):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": url.path.removeprefix("/")}
    database: dict[str, Any] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.removeprefix("/"),
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
        # Persistent connections, as the deployment checklist suggests (CONN_MAX_AGE).
        "CONN_MAX_AGE": 600,
    }
    schema = os.environ.get("PEER_SCHEMA")
    if schema:
        database["OPTIONS"] = {"options": f"-c search_path={schema}"}
    return database


settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("PEER_SECRET_KEY", "bench-peer-secret-key-0123456789abcdef"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
    ],
    # startproject's list, less the apps this project does not install (messages).
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    DATABASES={"default": _database()},
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.BCryptSHA256PasswordHasher"],
    USE_TZ=True,
)
django.setup()

from django.contrib.auth import authenticate, login  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_GET, require_POST  # noqa: E402
from peer_common import seed_main  # noqa: E402


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"message": "ok"})


# A JSON API's login, as the other peers' (their benchmark clients hold no CSRF token).
@csrf_exempt
@require_POST
def log_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request,
        username=request.POST.get("email", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        return JsonResponse({"message": "invalid credentials"}, status=401)
    login(request, user)
    return JsonResponse({"email": user.email})


@require_GET
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"email": request.user.email})


urlpatterns = [path("", index), path("login", log_in), path("profile", profile)]
application = WSGIHandler()
app = application


def seed(users: int, sessions: int, password: str) -> list[tuple[str, str]]:
    """Create the tables and `users` accounts; log the first `sessions` in with `login`."""
    call_command("migrate", verbosity=0, interactive=False)
    hashed = make_password(password)
    User.objects.all().delete()
    SessionStore.get_model_class().objects.all().delete()
    User.objects.bulk_create(
        User(
            id=n,
            username=f"user{n}@bench.example.com",
            email=f"user{n}@bench.example.com",
            password=hashed,
        )
        for n in range(1, users + 1)
    )
    factory = RequestFactory(REMOTE_ADDR="127.0.0.1")
    lines = []
    for user in User.objects.order_by("id")[:sessions]:
        request = factory.post("/login")
        request.session = SessionStore()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session.save()
        lines.append((f"sessionid={request.session.session_key}", user.email))
    return lines


if __name__ == "__main__":
    sys.exit(seed_main(seed))
