"""What every CLI command shares: the settings, error reporting, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from standfast.cli import render
from standfast.cli.client import ApiError, Client
from standfast.config.paths import Paths
from standfast.messages import Lang, StandfastError

P = ParamSpec("P")
R = TypeVar("R")


class Settings:
    def __init__(
        self,
        home: Path | None,
        socket: Path | None,
        defaults: Path | None,
        lang: Lang,
        timeout: float,
    ) -> None:
        self.paths = Paths.from_env(home=home, socket_path=socket, defaults=defaults)
        self.lang = lang
        self.timeout = timeout

    def client(self) -> Client:
        return Client(self.paths.socket, timeout=self.timeout, lang=self.lang)


def fail(code_line: str, exit_code: int = 1) -> None:
    render.err.print(code_line, markup=False)
    sys.exit(exit_code)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Every refusal ends the command with its numbered message and a non-zero status."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            render.print_notices(exc.notices)
            fail(f"{exc.error.get('code')}: {exc.error.get('message')}")
            raise AssertionError("unreachable") from None
        except StandfastError as exc:
            lang = click.get_current_context().find_object(Settings)
            fail(exc.text(lang.lang if lang else None))
            raise AssertionError("unreachable") from None

    return wrapper


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        human(data)


def parse_props(pairs: tuple[str, ...]) -> dict[str, str]:
    props: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise StandfastError("000002")
        props[name] = value
    return props


def show_outcome(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for line in body.get("transcript", []):
        render.out.print(line, markup=False)
    render.print_notices(body.get("notices", []))
    render.out.print(render.kv_table(body.get("result", {})))
