"""A small XDR (RFC 4506) packer and unpacker.

The standard library's ``xdrlib`` is deprecated (removed in Python 3.13); this module
covers what the ONC RPC, portmapper and MOUNT clients need: unsigned and signed
32-bit integers, 64-bit hypers, booleans, fixed and variable opaque data, strings
and arrays. Every unpack checks bounds and raises :class:`XdrError` on short or
malformed input, so a bad reply can never crash a caller with a bare ``IndexError``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import TypeVar

__all__ = ["XdrError", "XdrPacker", "XdrUnpacker"]

T = TypeVar("T")

_UINT_MAX = 0xFFFFFFFF
_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1


class XdrError(ValueError):
    """Malformed XDR data, or a value that cannot be encoded."""


def _pad(length: int) -> int:
    return (4 - length % 4) % 4


class XdrPacker:
    """Accumulates XDR-encoded values; :meth:`get_buffer` returns the bytes."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def get_buffer(self) -> bytes:
        return b"".join(self._parts)

    def pack_uint(self, value: int) -> None:
        if not 0 <= value <= _UINT_MAX:
            raise XdrError(f"unsigned int out of range: {value}")
        self._parts.append(struct.pack(">I", value))

    def pack_int(self, value: int) -> None:
        if not _INT_MIN <= value <= _INT_MAX:
            raise XdrError(f"int out of range: {value}")
        self._parts.append(struct.pack(">i", value))

    def pack_uhyper(self, value: int) -> None:
        if not 0 <= value < 2**64:
            raise XdrError(f"unsigned hyper out of range: {value}")
        self._parts.append(struct.pack(">Q", value))

    def pack_hyper(self, value: int) -> None:
        if not -(2**63) <= value < 2**63:
            raise XdrError(f"hyper out of range: {value}")
        self._parts.append(struct.pack(">q", value))

    def pack_bool(self, value: bool) -> None:
        self._parts.append(struct.pack(">I", 1 if value else 0))

    def pack_fopaque(self, size: int, data: bytes) -> None:
        """Fixed-length opaque: exactly ``size`` bytes, padded to a multiple of 4."""
        if len(data) != size:
            raise XdrError(f"fixed opaque needs {size} bytes, got {len(data)}")
        self._parts.append(bytes(data) + b"\0" * _pad(size))

    def pack_opaque(self, data: bytes, max_length: int | None = None) -> None:
        """Variable-length opaque: a length word, the bytes, padding."""
        if max_length is not None and len(data) > max_length:
            raise XdrError(f"opaque longer than {max_length}: {len(data)}")
        self.pack_uint(len(data))
        self.pack_fopaque(len(data), data)

    def pack_string(self, value: str, max_length: int | None = None) -> None:
        """A string, encoded as UTF-8 variable-length opaque data."""
        self.pack_opaque(value.encode("utf-8"), max_length)

    def pack_array(
        self, items: Iterable[T], pack_item: Callable[[T], None], max_length: int | None = None
    ) -> None:
        """Variable-length array: a count, then each item."""
        values = list(items)
        if max_length is not None and len(values) > max_length:
            raise XdrError(f"array longer than {max_length}: {len(values)}")
        self.pack_uint(len(values))
        for item in values:
            pack_item(item)

    def pack_farray(self, items: Iterable[T], pack_item: Callable[[T], None]) -> None:
        """Fixed-length array: the items without a count (the size is implied)."""
        for item in items:
            pack_item(item)


class XdrUnpacker:
    """Reads XDR-encoded values from a byte string, with bounds checks."""

    def __init__(self, data: bytes, *, max_item_length: int = 1 << 20) -> None:
        self._data = bytes(data)
        self._pos = 0
        self._max_item = max_item_length

    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def get_remaining(self) -> bytes:
        """The bytes not yet consumed (consumes them)."""
        rest = self._data[self._pos :]
        self._pos = len(self._data)
        return rest

    def done(self) -> None:
        """Raise :class:`XdrError` if unread data remains."""
        if self._pos != len(self._data):
            raise XdrError(f"{self.remaining()} unread bytes at offset {self._pos}")

    def _take(self, count: int) -> bytes:
        if count < 0 or self._pos + count > len(self._data):
            raise XdrError(
                f"need {count} bytes at offset {self._pos}, only {self.remaining()} left"
            )
        chunk = self._data[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def unpack_uint(self) -> int:
        value: int = struct.unpack(">I", self._take(4))[0]
        return value

    def unpack_int(self) -> int:
        value: int = struct.unpack(">i", self._take(4))[0]
        return value

    def unpack_uhyper(self) -> int:
        value: int = struct.unpack(">Q", self._take(8))[0]
        return value

    def unpack_hyper(self) -> int:
        value: int = struct.unpack(">q", self._take(8))[0]
        return value

    def unpack_bool(self) -> bool:
        raw = self.unpack_uint()
        if raw not in (0, 1):
            raise XdrError(f"bad boolean value {raw} at offset {self._pos - 4}")
        return raw == 1

    def unpack_fopaque(self, size: int) -> bytes:
        data = self._take(size)
        padding = self._take(_pad(size))
        if padding.strip(b"\0"):
            raise XdrError("non-zero XDR padding")
        return data

    def unpack_opaque(self, max_length: int | None = None) -> bytes:
        length = self.unpack_uint()
        limit = self._max_item if max_length is None else max_length
        if length > limit:
            raise XdrError(f"opaque length {length} exceeds limit {limit}")
        return self.unpack_fopaque(length)

    def unpack_string(self, max_length: int | None = None) -> str:
        raw = self.unpack_opaque(max_length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def unpack_array(self, unpack_item: Callable[[], T], max_length: int | None = None) -> list[T]:
        count = self.unpack_uint()
        limit = self._max_item if max_length is None else max_length
        if count > limit:
            raise XdrError(f"array length {count} exceeds limit {limit}")
        # Each item takes at least 4 bytes: a cheap guard against absurd counts.
        if count * 4 > self.remaining():
            raise XdrError(f"array of {count} items cannot fit in {self.remaining()} bytes")
        return [unpack_item() for _ in range(count)]

    def unpack_farray(self, count: int, unpack_item: Callable[[], T]) -> list[T]:
        return [unpack_item() for _ in range(count)]

    def unpack_optional_list(
        self, unpack_item: Callable[[], T], max_items: int = 100_000
    ) -> list[T]:
        """An XDR linked list (``*next`` pointers): bool, item, bool, item ... bool false."""
        items: list[T] = []
        while self.unpack_bool():
            if len(items) >= max_items:
                raise XdrError(f"linked list longer than {max_items}")
            items.append(unpack_item())
        return items
