"""Pairwise pseudonyms: stable, different per sector, one-way, well formed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimserver.policy.pseudonyms import (
    PREFIX,
    derive_key,
    is_pseudonym,
    pseudonym,
)

KEY = b"k" * 32
USER_ID = "2819c223-7f76-453a-919d-413861904646"


def test_a_pseudonym_is_stable() -> None:
    assert pseudonym(KEY, "lms", USER_ID) == pseudonym(KEY, "lms", USER_ID)


def test_a_pseudonym_has_the_prefix_and_32_base32_letters() -> None:
    text = pseudonym(KEY, "lms", USER_ID)

    assert text.startswith(PREFIX)
    assert len(text) == len(PREFIX) + 32
    assert is_pseudonym(text)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((KEY, "lms", USER_ID), (KEY, "eap", USER_ID)),
        ((KEY, "lms", USER_ID), (KEY, "lms", USER_ID + "0")),
        ((KEY, "lms", USER_ID), (b"j" * 32, "lms", USER_ID)),
        # The sector is length-prefixed: moving a colon across changes the result.
        ((KEY, "a:b", "c"), (KEY, "a", "b:c")),
    ],
    ids=["sector", "user", "key", "no-ambiguous-join"],
)
def test_pseudonyms_differ_when_any_input_differs(
    first: tuple[bytes, str, str], second: tuple[bytes, str, str]
) -> None:
    assert pseudonym(*first) != pseudonym(*second)


@given(st.sets(st.uuids().map(str), min_size=2, max_size=20))
def test_two_sectors_share_no_pseudonym(user_ids: set[str]) -> None:
    lms = {pseudonym(KEY, "lms", u) for u in user_ids}
    eap = {pseudonym(KEY, "eap", u) for u in user_ids}

    assert len(lms) == len(user_ids)
    assert lms.isdisjoint(eap)


@given(st.uuids().map(str))
def test_the_id_does_not_appear_in_its_pseudonym(user_id: str) -> None:
    text = pseudonym(KEY, "lms", user_id)

    assert user_id not in text
    assert user_id.replace("-", "")[:8] not in text


@pytest.mark.parametrize("sector", ["", " lms", "lms/1", "x" * 101, "-lms"])
def test_an_invalid_sector_is_refused(sector: str) -> None:
    with pytest.raises(ValueError, match="sector"):
        pseudonym(KEY, sector, USER_ID)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        pseudonym(b"", "lms", USER_ID)
    with pytest.raises(ValueError, match="empty"):
        derive_key("")


def test_the_derived_key_depends_on_the_secret_and_is_not_the_secret() -> None:
    key = derive_key("a long random secret")

    assert len(key) == 32
    assert key == derive_key("a long random secret")
    assert key != derive_key("another secret")
    assert b"a long random secret" not in key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (pseudonym(KEY, "lms", USER_ID), True),
        (USER_ID, False),
        (PREFIX + "a" * 31, False),
        (PREFIX + "A" * 32, False),
        (PREFIX + "1" * 32, False),
        (PREFIX + "a" * 32 + "\n", False),
    ],
)
def test_is_pseudonym(text: str, expected: bool) -> None:
    assert is_pseudonym(text) is expected
