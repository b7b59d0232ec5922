"""Version control hosts: GitHub and every GitLab token prefix.

Shapes from gitleaks' `cmd/generate/config/rules/github.go` and `gitlab.go` (v8.30): exact
lengths where GitLab issues them so (a longer run is not that token), and detect-secrets'
wider alphabet for `glptt-`.
"""

from __future__ import annotations

from opsd.secretscan.rules.model import END, END_URLSAFE, Matcher, Rule, prefixed

_BODY = r"[A-Za-z0-9_\-]"


def _gitlab(rule_id: str, what: str, prefix: str, body: str) -> Rule:
    return Rule(rule_id, f"GitLab {what} ({prefix})", (prefixed(prefix, body, END_URLSAFE),),
                entropy=3.0)


RULES: tuple[Rule, ...] = (
    Rule(
        "github-token", "GitHub token (personal, OAuth, user, server, refresh, fine-grained)",
        (
            Matcher("g", r"h[pousr]_[A-Za-z0-9]{36}" + END),
            Matcher("g", r"ithub_pat_[A-Za-z0-9_]{82}" + END),
        ),
        entropy=3.5,
    ),
    Rule(
        "gitlab-token", "GitLab personal access token",
        (Matcher("glpat-", r"[A-Za-z0-9_\-]{20,300}(?:\.[0-9a-z]{9})?" + END),), entropy=3.0,
    ),
    _gitlab("gitlab-runner-token", "runner authentication token", "glrt-",
            _BODY + r"{20,300}(?:\.[0-9a-z]{9})?"),
    _gitlab("gitlab-deploy-token", "deploy token", "gldt-", _BODY + "{20}"),
    _gitlab("gitlab-pipeline-trigger-token", "pipeline trigger token", "glptt-", _BODY + "{40}"),
    _gitlab("gitlab-cicd-job-token", "CI/CD job token", "glcbt-",
            r"[0-9A-Za-z]{1,5}_" + _BODY + "{20,64}"),
    _gitlab("gitlab-feed-token", "feed token", "glft-", _BODY + "{20}"),
    _gitlab("gitlab-incoming-mail-token", "incoming mail token", "glimt-", _BODY + "{25}"),
    _gitlab("gitlab-kubernetes-agent-token", "Kubernetes agent token", "glagent-",
            _BODY + "{50,100}"),
    _gitlab("gitlab-oauth-app-secret", "OAuth application secret", "gloas-", _BODY + "{64}"),
    _gitlab("gitlab-scim-token", "SCIM token", "glsoat-", _BODY + "{20}"),
    _gitlab("gitlab-feature-flag-client-token", "feature flag client token", "glffct-",
            _BODY + "{20}"),
    _gitlab("gitlab-runner-registration-token", "runner registration token", "GR1348941",
            _BODY + "{20}"),
    Rule(
        "gitlab-session-cookie", "GitLab session cookie (_gitlab_session)",
        (Matcher("_gitlab_session", r"=(?P<secret>[0-9a-z]{32})" + END),),
        entropy=3.0, boundary=False, public_prefix=False,
    ),
)
