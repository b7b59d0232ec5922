"""Payments: Stripe live and test keys and webhook secrets (gitleaks' `stripe.go`)."""

from __future__ import annotations

from opsd.secretscan.rules.model import END, Matcher, Rule

RULES: tuple[Rule, ...] = (
    Rule(
        "stripe-live-key", "Stripe live (or prod) secret or restricted key",
        (
            Matcher("k_live_", r"[A-Za-z0-9]{24,99}" + END, lead="s"),
            Matcher("k_live_", r"[A-Za-z0-9]{24,99}" + END, lead="r"),
            Matcher("k_prod_", r"[A-Za-z0-9]{24,99}" + END, lead="s"),
            Matcher("k_prod_", r"[A-Za-z0-9]{24,99}" + END, lead="r"),
        ),
        entropy=3.0,
    ),
    Rule(
        "stripe-test-key", "Stripe test secret or restricted key",
        (
            Matcher("k_test_", r"[A-Za-z0-9]{24,99}" + END, lead="s"),
            Matcher("k_test_", r"[A-Za-z0-9]{24,99}" + END, lead="r"),
        ),
        entropy=3.0,
    ),
    Rule(
        "stripe-webhook-secret", "Stripe webhook signing secret",
        (Matcher("whsec_", r"[A-Za-z0-9]{32,64}" + END),), entropy=3.0,
    ),
)
