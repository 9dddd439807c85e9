"""XDR packer/unpacker round trips and malformed-input handling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standfast.nfs.xdr import XdrError, XdrPacker, XdrUnpacker


def test_known_encodings() -> None:
    packer = XdrPacker()
    packer.pack_uint(1)
    packer.pack_int(-2)
    packer.pack_bool(True)
    packer.pack_string("abcde")
    packer.pack_opaque(b"")
    packer.pack_array([7, 8], packer.pack_uint)
    assert packer.get_buffer() == (
        b"\x00\x00\x00\x01"
        b"\xff\xff\xff\xfe"
        b"\x00\x00\x00\x01"
        b"\x00\x00\x00\x05abcde\x00\x00\x00"
        b"\x00\x00\x00\x00"
        b"\x00\x00\x00\x02\x00\x00\x00\x07\x00\x00\x00\x08"
    )


@given(
    st.integers(0, 2**32 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.binary(max_size=300),
    st.text(max_size=100),
    st.lists(st.integers(0, 2**32 - 1), max_size=20),
    st.lists(st.text(max_size=10), max_size=10),
)
def test_round_trip(
    u: int,
    i: int,
    uh: int,
    h: int,
    b: bool,
    data: bytes,
    text: str,
    numbers: list[int],
    strings: list[str],
) -> None:
    packer = XdrPacker()
    packer.pack_uint(u)
    packer.pack_int(i)
    packer.pack_uhyper(uh)
    packer.pack_hyper(h)
    packer.pack_bool(b)
    packer.pack_opaque(data)
    packer.pack_fopaque(len(data), data)
    packer.pack_string(text)
    packer.pack_array(numbers, packer.pack_uint)
    packer.pack_array(strings, packer.pack_string)
    buffer = packer.get_buffer()
    assert len(buffer) % 4 == 0

    unpacker = XdrUnpacker(buffer)
    assert unpacker.unpack_uint() == u
    assert unpacker.unpack_int() == i
    assert unpacker.unpack_uhyper() == uh
    assert unpacker.unpack_hyper() == h
    assert unpacker.unpack_bool() is b
    assert unpacker.unpack_opaque() == data
    assert unpacker.unpack_fopaque(len(data)) == data
    assert unpacker.unpack_string() == text
    assert unpacker.unpack_array(unpacker.unpack_uint) == numbers
    assert unpacker.unpack_array(unpacker.unpack_string) == strings
    unpacker.done()


def test_optional_list_round_trip() -> None:
    packer = XdrPacker()
    for name in ("a", "bb"):
        packer.pack_bool(True)
        packer.pack_string(name)
    packer.pack_bool(False)
    unpacker = XdrUnpacker(packer.get_buffer())
    assert unpacker.unpack_optional_list(unpacker.unpack_string) == ["a", "bb"]
    unpacker.done()


@pytest.mark.parametrize(
    ("method", "value"),
    [("pack_uint", -1), ("pack_uint", 2**32), ("pack_int", 2**31), ("pack_uhyper", -1)],
)
def test_out_of_range_values_are_refused(method: str, value: int) -> None:
    with pytest.raises(XdrError):
        getattr(XdrPacker(), method)(value)


def test_length_limits_when_packing() -> None:
    packer = XdrPacker()
    with pytest.raises(XdrError):
        packer.pack_opaque(b"x" * 5, max_length=4)
    with pytest.raises(XdrError):
        packer.pack_fopaque(4, b"abc")
    with pytest.raises(XdrError):
        packer.pack_array([1, 2, 3], packer.pack_uint, max_length=2)


def test_short_and_malformed_input() -> None:
    with pytest.raises(XdrError):
        XdrUnpacker(b"\x00\x00").unpack_uint()
    with pytest.raises(XdrError):  # claims 8 bytes, has 4
        XdrUnpacker(b"\x00\x00\x00\x08abcd").unpack_opaque()
    with pytest.raises(XdrError):
        XdrUnpacker(b"\x00\x00\x00\x02").unpack_bool()
    with pytest.raises(XdrError):  # non-zero padding
        XdrUnpacker(b"\x00\x00\x00\x01a\x01\x00\x00").unpack_opaque()
    with pytest.raises(XdrError):  # over the caller's limit
        XdrUnpacker(b"\x00\x00\x00\x08abcdefgh").unpack_opaque(max_length=4)
    with pytest.raises(XdrError):  # absurd array count
        XdrUnpacker(b"\xff\xff\xff\xff").unpack_array(lambda: 0, max_length=2**32)
    leftover = XdrUnpacker(b"\x00\x00\x00\x01\x00\x00\x00\x02")
    leftover.unpack_uint()
    assert leftover.remaining() == 4
    with pytest.raises(XdrError):
        leftover.done()


def test_non_utf8_string_decodes_without_error() -> None:
    packer = XdrPacker()
    packer.pack_opaque(b"caf\xe9")
    assert XdrUnpacker(packer.get_buffer()).unpack_string() == "café"
