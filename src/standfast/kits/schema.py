"""Declarative kit properties: one schema drives validation, CLI, GUI forms and docs.

Every value is checked here before anything runs or is stored: :meth:`PropertySpec.parse`
and :func:`validate_props` return the converted values or raise a
:class:`StandfastError` (190011-190013, 190017); no other exception escapes, whatever
the input (the unit tests check this with generated input), so a refusal leaves nothing
half-done behind it.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from standfast.messages import StandfastError
from standfast.model.resources import PropValue

PropType = Literal["str", "int", "float", "bool", "path", "argv", "choice"]

#: The range a number property has when its kit gives no ``minimum`` or ``maximum``.
#: Every number property the kits declare is a time limit in seconds for an action or
#: a check. A day (86,400 s) is far longer than any of them may sanely take, yet small
#: enough that every deadline computed from it (``monotonic() + value``) and every
#: timeout handed to the host stays exact: ``1e300`` overflowed them after the command
#: had run, ``inf`` and ``nan`` broke the check loop and replication. Kits set their
#: own, narrower minimum (0.1 s); the default floor is zero so no value is negative.
NUMBER_MIN = 0.0
NUMBER_MAX = 86_400.0
# More digits than any number in range has; longer text is refused before conversion
# (int() of thousands of digits is slow, and has its own limit with its own error).
_MAX_DIGITS = 30
_INT_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")


@dataclass(frozen=True)
class PropertySpec:
    """One property of a kit. Numbers are finite and within ``minimum``..``maximum``
    (:data:`NUMBER_MIN`..:data:`NUMBER_MAX` when left out); text holds no NUL character
    and is valid Unicode (no unpaired surrogates), so it can be stored, replicated and
    passed to a command."""

    name: str
    type: PropType
    help: str
    default: PropValue | None = None
    required: bool = False
    mutable: bool = True
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "help": self.help,
            "default": self.default,
            "required": self.required,
            "mutable": self.mutable,
            "choices": list(self.choices),
        }

    def parse(self, kit: str, raw: object) -> PropValue:
        """Convert and check one value; raises 190011 with the reason."""
        try:
            value = _convert(self, raw)
        except ValueError as exc:
            raise StandfastError("190011", value=raw, name=self.name, kit=kit, reason=exc) from None
        return value


def check_text(text: str) -> str:
    """``text`` when it can be stored, sent and passed to a command; else ValueError.

    A NUL cannot reach a command line, an environment variable or a file name (Python
    raises ValueError there, after earlier steps of an action have run); an unpaired
    surrogate cannot be encoded as UTF-8 for the same places."""
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return text


def validate_id(kit: str, rid: str) -> str:
    """A resource id as given to create: text :func:`check_text` accepts; else 190023."""
    if not isinstance(rid, str):
        raise StandfastError("190023", id=rid, kit=kit, reason="must be text")
    try:
        return check_text(rid)
    except ValueError as exc:
        raise StandfastError("190023", id=rid, kit=kit, reason=exc) from None


def _bounds(spec: PropertySpec) -> tuple[float, float]:
    low = NUMBER_MIN if spec.minimum is None else spec.minimum
    high = NUMBER_MAX if spec.maximum is None else spec.maximum
    return low, high


def _out_of_range(low: float, high: float) -> ValueError:
    return ValueError(f"must be between {low:g} and {high:g}")


def _to_int(raw: object, low: float, high: float) -> int:
    if isinstance(raw, float):
        if not math.isfinite(raw) or not raw.is_integer():
            raise ValueError("expected a whole number")
        raw = int(raw)
    if isinstance(raw, str):
        if not _INT_TEXT.fullmatch(raw):
            raise ValueError("expected a whole number")
        if len(raw.strip().lstrip("+-").lstrip("0")) > _MAX_DIGITS:
            raise _out_of_range(low, high)
        raw = int(raw)
    if not isinstance(raw, int):
        raise ValueError("expected a whole number")
    return raw


def _to_float(raw: object, low: float, high: float) -> float:
    if isinstance(raw, int):
        # float() of a huge int raises OverflowError: compare as int first.
        if not low <= raw <= high:
            raise _out_of_range(low, high)
        return float(raw)
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
    if not isinstance(raw, float):
        raise ValueError("expected a number")
    return raw


def _number(spec: PropertySpec, raw: object) -> int | float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    low, high = _bounds(spec)
    number = _to_int(raw, low, high) if spec.type == "int" else _to_float(raw, low, high)
    # An int is finite; isfinite() of a huge one would raise OverflowError.
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("must be a finite number")
    if not low <= number <= high:
        raise _out_of_range(low, high)
    return number


def _convert(spec: PropertySpec, raw: object) -> PropValue:
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        low = str(raw).lower() if isinstance(raw, str | int) else ""
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if spec.type in ("int", "float"):
        return _number(spec, raw)
    if not isinstance(raw, str | int | float):
        raise ValueError("expected text")
    text = check_text(str(raw))
    if spec.type == "path" and text and not text.startswith("/"):
        raise ValueError("must be an absolute path")
    if spec.type == "argv" and text:
        try:
            if not shlex.split(text):
                raise ValueError("empty command")
        except ValueError as exc:
            raise ValueError(f"not a command line: {exc}") from None
    if spec.type == "choice" and text not in spec.choices:
        raise ValueError("choose one of " + ", ".join(spec.choices))
    return text


def validate_props(
    kit: str,
    schema: Sequence[PropertySpec],
    given: Mapping[str, PropValue],
    *,
    base: Mapping[str, PropValue] | None = None,
) -> dict[str, PropValue]:
    """Full property set for a new resource (``base`` None) or an edit of one."""
    specs = {s.name: s for s in schema}
    for name in given:
        if name not in specs:
            raise StandfastError("190012", name=name, kit=kit)
    out: dict[str, PropValue] = dict(base or {})
    for name, value in given.items():
        spec = specs[name]
        if base is not None and not spec.mutable and base.get(name) != value:
            raise StandfastError("190017", name=name, kit=kit)
        out[name] = spec.parse(kit, value)
    if base is None:
        for spec in schema:
            if spec.name not in out:
                if spec.required:
                    raise StandfastError("190013", name=spec.name, kit=kit)
                if spec.default is not None:
                    out[spec.name] = spec.default
    return out
