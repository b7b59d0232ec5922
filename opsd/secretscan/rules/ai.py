"""AI platforms: OpenAI, Anthropic, Hugging Face, Groq, Perplexity, xAI.

Shapes from gitleaks' `openai.go`, `anthropic.go`, `huggingface.go`, `perplexity.go` (v8.30)
and kingfisher's `groq.yml` and `xai.yml`.
"""

from __future__ import annotations

from opsd.secretscan.rules.model import END, Matcher, Rule, prefixed

RULES: tuple[Rule, ...] = (
    Rule(
        "openai-api-key", "OpenAI API key",
        (Matcher("k-", r"(?:[a-z]{3,10}-)?[A-Za-z0-9_\-]{20,200}T3BlbkFJ[A-Za-z0-9_\-]{20,200}"
                       + END, lead="s"),),
        entropy=3.5,
    ),
    Rule(
        "anthropic-api-key", "Anthropic API or admin key",
        (Matcher("k-", r"ant-[a-z]{3,8}\d\d-[A-Za-z0-9_\-]{80,120}" + END, lead="s"),),
        entropy=3.5,
    ),
    Rule(
        "huggingface-token", "Hugging Face access or organization token",
        (prefixed("hf_", "[A-Za-z]{34}"), prefixed("api_org_", "[A-Za-z]{34}")),
        entropy=3.0,
    ),
    Rule("groq-api-key", "Groq API key", (prefixed("gsk_", "[A-Za-z0-9]{52}"),), entropy=3.5),
    Rule("perplexity-api-key", "Perplexity API key", (prefixed("pplx-", "[A-Za-z0-9]{48}"),),
         entropy=3.5),
    Rule("xai-api-key", "xAI API key", (prefixed("xai-", "[A-Za-z0-9_]{80}"),), entropy=3.5),
)
