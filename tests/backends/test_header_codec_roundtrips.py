"""The header codec on its own: build -> parse gives back every field, and pages the kernel
would refuse are refused with a reason, by both directions of the codec."""

from __future__ import annotations

import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backends.errors import HeaderError, ValidationError
from backends.header import MAGIC, SwapHeader, build_header, max_badpages, parse_header

PAGE_SIZES = (4096, 8192, 65536)


def labels() -> st.SearchStrategy[str]:
    no_nul = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
    return st.text(no_nul, max_size=16).filter(lambda s: len(s.encode()) <= 16)


@st.composite
def headers(draw: st.DrawFn) -> SwapHeader:
    page_size = draw(st.sampled_from(PAGE_SIZES))
    last_page = draw(st.integers(min_value=9, max_value=2**32 - 1))
    most = min(max_badpages(page_size), last_page)
    badpages = draw(st.lists(st.integers(1, last_page), unique=True, max_size=most).map(tuple))
    return SwapHeader(
        version=1,
        page_size=page_size,
        last_page=last_page,
        badpages=badpages,
        uuid=draw(st.uuids(allow_nil=True)),
        label=draw(labels()),
    )


def header(**kw: object) -> SwapHeader:
    fields: dict[str, object] = dict(
        version=1, page_size=4096, last_page=255, badpages=(), uuid=uuid.uuid4(), label="swap"
    )
    fields.update(kw)
    return SwapHeader(**fields)  # type: ignore[arg-type]


@given(headers())
def test_it_parses_back_every_field_it_builds(hdr: SwapHeader) -> None:
    page = build_header(hdr)
    assert len(page) == hdr.page_size
    assert page[-10:] == MAGIC
    assert page[:1024] == bytes(1024)
    assert parse_header(page, hdr.page_size) == hdr


@given(headers(), st.binary(min_size=1024, max_size=1024))
def test_it_keeps_a_boot_sector_byte_for_byte(hdr: SwapHeader, boot: bytes) -> None:
    page = build_header(hdr, boot)
    assert page[:1024] == boot
    assert parse_header(page, hdr.page_size) == hdr


def test_it_lays_out_fields_where_the_kernel_reads_them() -> None:
    u = uuid.UUID("12345678-1234-5678-9abc-def012345678")
    page = build_header(header(last_page=1000, badpages=(7, 9), uuid=u, label="abc"))
    assert struct.unpack_from("=III", page, 1024) == (1, 1000, 2)
    assert page[1036:1052] == u.bytes
    assert page[1052:1068] == b"abc" + bytes(13)
    assert struct.unpack_from("=II", page, 1536) == (7, 9)
    assert page[4086:] == b"SWAPSPACE2"


def test_it_gives_the_dict_the_api_shows() -> None:
    u = uuid.uuid4()
    assert header(badpages=(3,), uuid=u, label="x").to_dict() == {
        "version": 1,
        "page_size": 4096,
        "last_page": 255,
        "nr_badpages": 1,
        "badpages": [3],
        "uuid": str(u),
        "label": "x",
    }


def test_it_fills_a_page_with_as_many_bad_pages_as_util_linux_allows() -> None:
    assert max_badpages(4096) == 637
    full = header(last_page=10_000, badpages=tuple(range(1, 638)))
    assert parse_header(build_header(full)) == full
    with pytest.raises(ValidationError, match="637"):
        build_header(header(last_page=10_000, badpages=tuple(range(1, 639))))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"label": "seventeen-bytes!!"}, "17 bytes"),
        ({"label": "ééééééééé"}, "18 bytes"),
        ({"label": "a\x00b"}, "NUL"),
        ({"badpages": (0,)}, "bad page 0 is outside"),
        ({"badpages": (256,)}, "bad page 256 is outside"),
        ({"badpages": (5, 5)}, "twice"),
        ({"version": 2}, "version 2"),
        ({"page_size": 3000}, "power of two"),
        ({"last_page": 0}, "last page 0"),
    ],
)
def test_it_refuses_to_build_what_the_kernel_refuses(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        build_header(header(**fields))


def test_it_refuses_a_boot_sector_of_the_wrong_size() -> None:
    with pytest.raises(ValidationError, match="1024 bytes, not 512"):
        build_header(header(), bytes(512))


def test_it_accepts_a_label_of_exactly_sixteen_bytes() -> None:
    hdr = header(label="0123456789abcdef")
    page = build_header(hdr)
    assert page[1052:1068] == b"0123456789abcdef"
    assert parse_header(page).label == "0123456789abcdef"


def test_it_refuses_a_page_without_the_magic() -> None:
    with pytest.raises(HeaderError, match="SWAPSPACE2 magic is not at byte 4086"):
        parse_header(bytes(4096))


def test_it_names_the_old_version_0_format() -> None:
    page = bytearray(4096)
    page[-10:] = b"SWAP-SPACE"
    with pytest.raises(HeaderError, match="version 0"):
        parse_header(bytes(page))


def test_it_names_a_header_of_the_other_byte_order() -> None:
    page = bytearray(build_header(header()))
    page[1024:1028] = (1).to_bytes(4, "big" if struct.pack("=I", 1)[0] else "little")
    with pytest.raises(HeaderError, match="other byte order"):
        parse_header(bytes(page))


def test_it_refuses_a_bad_page_count_larger_than_the_page() -> None:
    page = bytearray(build_header(header()))
    struct.pack_into("=I", page, 1032, 638)
    with pytest.raises(HeaderError, match="638 bad pages"):
        parse_header(bytes(page))


def test_it_refuses_a_bad_page_outside_the_area() -> None:
    page = bytearray(build_header(header(badpages=(3,))))
    struct.pack_into("=I", page, 1536, 999)
    with pytest.raises(HeaderError, match="inconsistent swap header: bad page 999"):
        parse_header(bytes(page))


def test_it_refuses_a_short_page() -> None:
    with pytest.raises(HeaderError, match="4096-byte header page was expected, got 100"):
        parse_header(bytes(100))


def test_it_reads_a_label_that_is_not_utf8_without_failing() -> None:
    page = bytearray(build_header(header(label="")))
    page[1052:1054] = b"\xff\xfe"
    assert parse_header(bytes(page)).label == "\ufffd\ufffd"
