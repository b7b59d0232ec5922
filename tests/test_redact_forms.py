"""Redaction catches a secret in every form it may take in text: escaped (JSON, repr),
URL-encoded, base64 (also inside `Bearer …` and `user:password`) and hex."""

from __future__ import annotations

import json

import pytest
from secret_forms_support import FORMS, leaked

from opsd.config import Settings
from opsd.redact import Redactor, encoded_forms, redact_secret, redactor_for

TOKEN = "ntn_12345678901abcdefghijklmnopqrstuvwxyzABCDEFGHI"  # opsd:allow (valid shape, fake)
PASSWORD = 'p@ss w/rd"\\+&=%é'  # every character some encoding escapes


@pytest.mark.parametrize("secret", [TOKEN, PASSWORD], ids=["token", "password"])
@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_redacted(secret: str, form: str) -> None:
    text = f"error talking to the server: {FORMS[form](secret)} (end)"
    redacted = Redactor((secret,)).redact(text)
    assert not leaked(redacted, secret), redacted
    assert redacted.startswith("error talking to the server: ")
    assert redacted.endswith(" (end)")


def test_redaction_keeps_json_valid() -> None:
    document = json.dumps({"error": f"bad {PASSWORD} and {TOKEN}", "n": 1})
    redacted = json.loads(Redactor((PASSWORD, TOKEN)).redact(document))
    assert redacted == {"error": f"bad {redact_secret(PASSWORD)} and {redact_secret(TOKEN)}",
                        "n": 1}


def test_short_encoded_forms_leave_ordinary_text_alone() -> None:
    # base64("ab") is "YWI=": matching it would mangle unrelated words; the raw form still goes.
    redactor = Redactor(("ab",))
    assert redactor.redact("YWI and ab") == "YWI and …"
    assert all(len(form) >= 8 for form in encoded_forms("ab") if form != "ab")


def test_settings_redact_every_configured_secret_in_every_form() -> None:
    settings = Settings(
        notion={"token": TOKEN},
        caches=[{"name": "redis", "source": "redis://127.0.0.1:6379/0", "password": PASSWORD}],
    )
    for secret in (TOKEN, PASSWORD):
        text = " | ".join(form(secret) for form in FORMS.values())
        assert not leaked(settings.redact(text), secret)


def test_the_forms_are_built_once_per_set_of_secrets() -> None:
    assert redactor_for((TOKEN,)) is redactor_for((TOKEN,))
    assert redactor_for((TOKEN,)) is not redactor_for((TOKEN, PASSWORD))


@pytest.mark.parametrize("form", FORMS)
def test_the_leak_finder_sees_every_form(form: str) -> None:
    # The fault tests assert that no form is anywhere: that must be able to fail.
    assert form in leaked(f"x {FORMS[form](TOKEN)} y".encode(), TOKEN)
