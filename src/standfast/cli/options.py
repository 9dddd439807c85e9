"""Option types of the CLI that refuse bad values with numbered messages.

click's own types answer a bad value with a usage error without a code; these print
the catalogue line (190005, 190024) as the one line of output and exit with status 2,
as click's usage errors do. They never raise anything else, whatever the text.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import click

from standfast.cli import render
from standfast.messages import StandfastError
from standfast.model.tags import parse_switchback

if TYPE_CHECKING:
    # Generic in the click this is checked with; not in every click the project allows.
    _IntParam = click.ParamType[int]
    _FloatParam = click.ParamType[float]
else:
    _IntParam = _FloatParam = click.ParamType


class _OptionRefused(click.ClickException):
    """A value click could not take, refused with its numbered message as the one line
    of output (exit status 2, as click's own usage errors)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        render.err.print(self.message, markup=False)


def _refuse_option(ctx: click.Context | None, error: StandfastError) -> _OptionRefused:
    # The group's settings carry the --lang choice once the group has been parsed.
    lang = getattr(ctx.find_root().obj, "lang", None) if ctx is not None else None
    return _OptionRefused(error.text(lang))


class PriorityType(_IntParam):
    """A priority as a whole number; anything else is 190005 before the daemon is asked
    (the range, 1-999, is the daemon's to check, as for every other client)."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        # ASCII digits, and few: int() would also take "1_0", other scripts' digits and
        # thousands of digits (with an error of its own).
        if not re.fullmatch(r"[+-]?[0-9]{1,30}", text):
            raise _refuse_option(ctx, StandfastError("190005", priority=value))
        return int(text)


class SecondsType(_FloatParam):
    """A finite number of seconds, 0.01 to 86,400 (a day: longer than any wait for the
    daemon may sanely be, and within what sockets and deadlines accept); else 190024."""

    name = "seconds"
    low, high = 0.01, 86_400.0

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        option = param.get_error_hint(ctx) if param is not None and ctx is not None else "?"
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
            reason = "not a number"
        else:
            reason = f"must be {self.low:g} to {self.high:g} seconds"
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise _refuse_option(
                ctx, StandfastError("190024", value=value, option=option, reason=reason)
            )
        return number


PRIORITY = PriorityType()
SECONDS = SecondsType()


def checked_switchback(value: str | None) -> str | None:
    """The switchback option checked here, so an empty one is refused (190014) and not
    taken for "unchanged" by the daemon."""
    if value is not None:
        parse_switchback(value)
    return value
