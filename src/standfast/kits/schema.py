"""Declarative kit properties: one schema drives validation, CLI, GUI forms and docs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from standfast.messages import StandfastError
from standfast.model.resources import PropValue

PropType = Literal["str", "int", "float", "bool", "path", "argv", "choice"]


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: PropType
    help: str
    default: PropValue | None = None
    required: bool = False
    mutable: bool = True
    choices: tuple[str, ...] = ()
    minimum: float | None = None

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

    def parse(self, kit: str, raw: PropValue) -> PropValue:
        """Convert and check one value; raises 190011 with the reason."""
        try:
            value = _convert(self, raw)
        except ValueError as exc:
            raise StandfastError("190011", value=raw, name=self.name, kit=kit, reason=exc) from None
        return value


def _convert(spec: PropertySpec, raw: PropValue) -> PropValue:
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        low = str(raw).lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if spec.type in ("int", "float"):
        if isinstance(raw, bool):
            raise ValueError("expected a number")
        number: int | float = int(raw) if spec.type == "int" else float(raw)
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(f"must be at least {spec.minimum:g}")
        return number
    text = str(raw)
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
