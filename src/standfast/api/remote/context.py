"""What the remote API's routes share: the engine, the settings, the sessions, the
recent actions and the relay, made once per app by ``create_remote_app``."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from fastapi import FastAPI

from standfast.api.remote.middleware import ActionRecord
from standfast.api.remote.relay import RelayClient, RelayVerifier
from standfast.api.remote.sessions import Authenticator, IdentityDependency, SessionStore
from standfast.api.remote.settings import RemoteSettings
from standfast.api.remote.throttle import LoginThrottle
from standfast.engine.service import EngineService


@dataclass(frozen=True)
class RemoteContext:
    engine: EngineService
    settings: RemoteSettings
    local: FastAPI  # the local API, whose routes this one serves under /api
    sessions: SessionStore
    actions: deque[ActionRecord]
    identity: IdentityDependency  # the dependency that names the caller
    authenticator: Authenticator
    pam_slots: asyncio.Semaphore  # PAM checks at once (each holds a thread)
    relay_client: RelayClient | None  # None: no cluster, or no usable cluster key
    relay_verifier: RelayVerifier | None
    throttle: LoginThrottle  # failed logins per source and per account
