"""``next`` accepts paths on this server only (no open redirect)."""

from __future__ import annotations

import pytest

from scimserver.sso.next_path import HOME, safe_next


@pytest.mark.parametrize(
    "value",
    ["/account/consent", "/sso/launch/eap?x=1#frag", "/a/b%2F/c", "/"],
)
def test_relative_paths_pass(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", [None, ""])
def test_absent_means_home(value: str | None) -> None:
    assert safe_next(value) == HOME


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.test/",
        "//evil.test/path",
        "/\\evil.test",
        "\\\\evil.test",
        "/ok\\..\\evil",
        "javascript:alert(1)",
        "account/consent",
        "/line\nbreak",
        "/tab\there",
        "http:/evil.test",
        "/" + "a" * 3000,
    ],
)
def test_everything_else_is_refused(value: str) -> None:
    assert safe_next(value) is None
