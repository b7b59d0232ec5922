"""Previews of secrets reveal a published type prefix and a short tail, never more."""

from __future__ import annotations

import pytest

from opsd.redact import redact_secret


@pytest.mark.parametrize(
    ("secret", "preview"),
    [
        ("ntn_" + "a" * 42 + "iKoX", "ntn_…iKoX"),
        ("secret_" + "b" * 39 + "WXYZ", "secret_…WXYZ"),
        ("github_pat_" + "c" * 30 + "1234", "github_pat_…1234"),
        ("UuVTAIjv_kd8s7f6g5h4j3k2l1m0n9b8v7", "…b8v7"),  # no published prefix: none shown
        ("hunter2", "…"),
        ("short-password", "…rd"),
    ],
)
def test_preview(secret: str, preview: str) -> None:
    assert redact_secret(secret) == preview


def test_preview_never_reveals_more_than_a_fifth_of_the_secret_part() -> None:
    for length in range(1, 80):
        secret = "x" * length
        shown = redact_secret(secret).replace("…", "")
        assert len(shown) <= max(0, length // 5)
