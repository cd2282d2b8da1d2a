"""Peer: FastAPI-Users with the database strategy (or JWT), one protected JSON route.

Written from FastAPI-Users' docs: "Full example" (SQLAlchemy), "Strategies > Database" and
"Transports > Cookie" (https://fastapi-users.github.io/fastapi-users/latest/configuration/
authentication/strategies/database/), and "Password hash" for bcrypt at cost 12 (pwdlib's
BcryptHasher; its default is Argon2). PEER_STRATEGY=database (default): each request reads
the AccessToken row and then the user, so a token is revocable per session (logout deletes
it). PEER_STRATEGY=jwt: a signed token, read without the database, then the user by id;
not revocable before it expires. Both tokens travel in the cookie `fastapiusersauth`.

Served by the benchmark as FastAPI's deployment docs advise
(https://fastapi.tiangolo.com/deployment/server-workers/): `uvicorn peer_fastapi_users:app
--workers N`, with DATABASE_URL (sqlite+aiosqlite or postgresql+asyncpg) and PEER_SCHEMA on
PostgreSQL. `python peer_fastapi_users.py seed USERS SESSIONS OUT` writes the accounts and
SESSIONS tokens written by the strategy itself, as a login would.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin
from fastapi_users.authentication import (
    AuthenticationBackend,
    CookieTransport,
    JWTStrategy,
    Strategy,
)
from fastapi_users.authentication.strategy.db import AccessTokenDatabase, DatabaseStrategy
from fastapi_users.db import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy.access_token import (
    SQLAlchemyAccessTokenDatabase,
    SQLAlchemyBaseAccessTokenTableUUID,
)
from peer_common import schema, seed_main
from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

SECRET = os.environ.get("PEER_SECRET_KEY", "bench-peer-secret-key")
STRATEGY = os.environ.get("PEER_STRATEGY", "database")
LIFETIME_SECONDS = 3600


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
    pass


def _connect_args() -> dict[str, Any]:
    name = schema()
    return {"server_settings": {"search_path": name}} if name else {}


engine = create_async_engine(os.environ["DATABASE_URL"], connect_args=_connect_args())
async_session_maker = async_sessionmaker(engine, expire_on_commit=False)
password_helper = PasswordHelper(PasswordHash((BcryptHasher(rounds=12),)))


async def get_async_session() -> AsyncGenerator[AsyncSession, None]:
    async with async_session_maker() as session:
        yield session


async def get_user_db(
    session: AsyncSession = Depends(get_async_session),
) -> AsyncGenerator[SQLAlchemyUserDatabase[User, uuid.UUID], None]:
    yield SQLAlchemyUserDatabase(session, User)


async def get_access_token_db(
    session: AsyncSession = Depends(get_async_session),
) -> AsyncGenerator[SQLAlchemyAccessTokenDatabase[AccessToken], None]:
    yield SQLAlchemyAccessTokenDatabase(session, AccessToken)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(
    user_db: SQLAlchemyUserDatabase[User, uuid.UUID] = Depends(get_user_db),
) -> AsyncGenerator[UserManager, None]:
    yield UserManager(user_db, password_helper)


def get_database_strategy(
    access_token_db: AccessTokenDatabase[AccessToken] = Depends(get_access_token_db),
) -> DatabaseStrategy[User, uuid.UUID, AccessToken]:
    return DatabaseStrategy(access_token_db, lifetime_seconds=LIFETIME_SECONDS)


def get_jwt_strategy() -> JWTStrategy[User, uuid.UUID]:
    return JWTStrategy(secret=SECRET, lifetime_seconds=LIFETIME_SECONDS)


cookie_transport = CookieTransport(cookie_max_age=LIFETIME_SECONDS)
auth_backend = AuthenticationBackend(
    name=STRATEGY,
    transport=cookie_transport,
    get_strategy=get_jwt_strategy if STRATEGY == "jwt" else get_database_strategy,
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])
current_active_user = fastapi_users.current_user(active=True)

app = FastAPI()
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth")


@app.get("/")
async def index() -> dict[str, str]:
    return {"message": "ok"}


@app.get("/profile")
async def profile(user: User = Depends(current_active_user)) -> dict[str, str]:
    return {"email": user.email}


async def _seed(users: int, sessions: int, password: str) -> list[tuple[str, str]]:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    hashed = password_helper.hash(password)  # one hash for all: no bcrypt per account
    rows = [
        {"id": uuid.uuid4(), "email": f"user{n}@bench.example.com", "hashed_password": hashed}
        for n in range(1, users + 1)
    ]
    async with async_session_maker() as session:
        await session.execute(insert(User), rows)
        await session.commit()
        lines = []
        for row in rows[:sessions]:
            user = (await session.execute(select(User).filter_by(id=row["id"]))).scalar_one()
            strategy: Strategy[User, uuid.UUID] = (
                get_jwt_strategy()
                if STRATEGY == "jwt"
                else get_database_strategy(SQLAlchemyAccessTokenDatabase(session, AccessToken))
            )
            token = await strategy.write_token(user)
            lines.append((f"{cookie_transport.cookie_name}={token}", user.email))
    await engine.dispose()
    return lines


def seed(users: int, sessions: int, password: str) -> list[tuple[str, str]]:
    """Create the tables and `users` accounts; write `sessions` tokens with the strategy."""
    return asyncio.run(_seed(users, sessions, password))


if __name__ == "__main__":
    sys.exit(seed_main(seed))
