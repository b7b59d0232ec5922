"""`[secrets] rules_file`: extra rules in gitleaks' TOML format — RE2 patterns rewritten for
Python, gitleaks' semantics (keywords, secretGroup, entropy, allowlists), refusals in one line,
and the CLI and baseline with them."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from opsd.errors import ConfigError
from opsd.secretscan import AuditRequest, ScanOptions
from opsd.secretscan.gitleaks import load_rules_file
from opsd.secretscan.re2 import UnsupportedPattern, convert, to_python
from tests.test_secret_cli import assert_nowhere, scan_playbook
from tests.test_secret_scan import audit, found, tokens, write

TEAM_RULES = Path(__file__).parent / "data" / "gitleaks" / "team-rules.toml"


def acme_key(rng: random.Random) -> str:
    return "acme_" + "".join(rng.choice(string.ascii_lowercase + string.digits)
                             for _ in range(32))


def acme_password(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits + "!#%+") for _ in range(20))


# --- RE2 -> Python ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("re2", "python"),
    [
        (r"(?i)key\z", r"(?i)key\Z"),
        (r"(?<tok>[a-z]+)(?<=x)(?<!y)", r"(?P<tok>[a-z]+)(?<=x)(?<!y)"),
        (r"^/Users/(?i)[a-z]+$", r"^/Users/(?i:[a-z]+$)"),
        (r"(a(?i)b|c)d", r"(a(?i:b)|(?i:c))d"),
        (r"[[:alnum:]_-]+", r"[0-9A-Za-z_-]+"),
        (r"[^[:space:]]", r"[^\t\n\v\f\r ]"),
        (r"\Qa.b*\Ec", r"a\.b\*c"),
        (r"\x{41}\x42", r"A\x42"),
        (r"[a[&~|]", r"[a\[\&\~\|]"),
        (r"[]a]", r"[\]a]"),
        (r"(?s:.)(?i:x)", r"(?s:.)(?i:x)"),
    ],
)
def test_re2_patterns_are_rewritten(re2: str, python: str) -> None:
    assert convert(re2) == python
    to_python(re2)


def test_mid_pattern_flags_keep_re2_meaning() -> None:
    pattern = to_python(r"(a(?i)b|c)d")
    assert pattern.fullmatch("aBd") and pattern.fullmatch("Cd")
    assert not pattern.fullmatch("ABd")


def test_classes_are_ascii_as_in_re2() -> None:
    assert not to_python(r"^\w+$").match("héllo")
    assert to_python(r"^\w+$").match("hello_1")


@pytest.mark.parametrize(
    ("re2", "message"),
    [
        (r"\pL+", "Unicode classes"),
        (r"\p{Greek}", "Unicode classes"),
        (r"(?U)a+", "ungreedy"),
        (r"[[:foo:]]", "unknown character class [:foo:]"),
        (r"[abc", "missing ]"),
        (r"a(b", "not a valid regular expression"),
    ],
)
def test_unsupported_re2_is_refused(re2: str, message: str) -> None:
    with pytest.raises(UnsupportedPattern, match=message.replace("[", r"\[")):
        to_python(re2)


# --- loading ----------------------------------------------------------------------------------


def test_team_rules_load() -> None:
    rules = load_rules_file(TEAM_RULES)
    assert [r.id for r in rules.rules] == ["acme-deploy-key", "acme-password"]
    key, password = rules.rules
    assert (key.keywords, key.entropy, key.secret_group) == (("acme_",), 3.5, 0)
    assert (password.secret_group, len(password.allowlists)) == (2, 2)
    assert [target for target, _ in rules.targeted] == ["notion-token"]
    assert len(rules.allowlists) == 1
    assert rules.descriptions["acme-deploy-key"] == "ACME deploy key"


BAD_FILES = [
    ('[[rules]]\nid = "x"\nregex = \'\'\'\\p{L}+\'\'\'\n',
     "rule 'x': regex: Unicode classes (\\p…) have no Python equivalent"),
    ('[[rules]]\nid = "x"\nregex = "a"\n[[rules.required]]\nid = "y"\n',
     "rule 'x': required: not supported: composite rules are not supported"),
    ('[[rules]]\nid = "x"\npath = "id_rsa$"\n',
     "rule 'x': regex: missing (path-only rules are not supported)"),
    ('[extend]\nuseDefault = true\n',
     "extend: not supported: opsd's own rules are always on; put the rules themselves in "
     "this file"),
    ('[[rules]]\nid = "x"\nregex = "(a)"\nsecretGroup = 2\n',
     "rule 'x': secretGroup: must be a group number from 0 to 1"),
    ('[[rules]]\nid = "notion-token"\nregex = "a"\n',
     "rule 'notion-token': id: a built-in rule has this id: rename the rule"),
    ('[[rules]]\nid = "x"\nregex = "a"\n[rules.allowlist]\ncommits = ["abc"]\n',
     "rule 'x': allowlists[0]: commits: not supported: opsd scans files, not commits: allow "
     "by path, regex or stop word"),
    ('[[rules]]\nid = "x"\nregex = "a"\nkeyword = ["a"]\n', "rule 'x': keyword: unknown key"),
    ('[[rules]]\nid = "x"\nregex = "a"\n[[rules]]\nid = "x"\nregex = "b"\n',
     "rule 'x': id: defined more than once"),
    ('[[allowlists]]\ntargetRules = ["nope"]\nstopwords = ["a"]\n',
     "allowlists[0]: targetRules: no rule has the id 'nope'"),
    ('[[rules]]\nregex = "a"\n', "rules[0]: id: missing"),
    ('[[rules]]\nid = "x"\nregex = "a"\nentropy = "high"\n',
     "rule 'x': entropy: must be a number from 0 to 8"),
    ('[[rules]]\nid = "x"\nregex = "a"\n[[rules.allowlists]]\ndescription = "empty"\n',
     "rule 'x': allowlists[0]: an allowlist needs paths, regexes or stopwords"),
    ("[[rules]\n", "not valid TOML"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_what_cannot_be_used_is_one_line_naming_file_rule_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "gitleaks.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_rules_file(path)
    assert str(caught.value).startswith(f"rules_file {path}: {message}")
    assert "\n" not in str(caught.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rules_file .*nowhere\.toml: no such file"):
        load_rules_file(tmp_path / "nowhere.toml")


# --- matching ---------------------------------------------------------------------------------


def scan(tmp_path: Path, rules_file: Path = TEAM_RULES):
    custom = load_rules_file(rules_file)
    return audit(AuditRequest([tmp_path / "tree"], ScanOptions(custom=custom)))


def test_custom_rules_find_with_secret_group_keywords_and_entropy(tmp_path: Path) -> None:
    rng = random.Random(11)
    key, pw = acme_key(rng), acme_password(rng)
    write(tmp_path / "tree" / "deploy.sh", f'export KEY={key}\nACME_PWD="{pw}"\n'
                                          f"key2=acme_{'a' * 32}\n")
    report = scan(tmp_path)
    assert found(report) == [("deploy.sh", 1, "acme-deploy-key"), ("deploy.sh", 2, "acme-password")]
    by_rule = {f.rule: f for f in report.findings}
    assert (by_rule["acme-deploy-key"].column, by_rule["acme-password"].column) == (12, 11)
    assert by_rule["acme-password"].preview == "…" + pw[-2:]
    assert by_rule["acme-password"].end_column == 11 + len(pw)
    assert_nowhere([key, pw], json.dumps(report.to_dict()))


def test_keywords_gate_a_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nid = "serial"\nregex = \'\'\'\\b([A-Z0-9]{24})\\b\'\'\'\n'
                     'keywords = ["serial"]\n')
    value = "".join(random.Random(2).choice(string.ascii_uppercase + string.digits)
                    for _ in range(24))
    write(tmp_path / "tree" / "a.txt", f"code {value}\n")
    write(tmp_path / "tree" / "b.txt", f"SERIAL {value}\n")
    assert found(scan(tmp_path, rules)) == [("b.txt", 1, "serial")]


def test_allowlists_of_rules_and_of_the_file(tmp_path: Path) -> None:
    rng = random.Random(12)
    (token,) = tokens(1, seed=12)
    write(tmp_path / "tree" / "a.env", f"ACME_PWD={acme_password(rng)}testAccount\n"
                                       f"ACME_PWD={acme_password(rng)} # nosecret\n"
                                       "ACME_PWD=${ACME_PWD_FROM_VAULT}\n")
    write(tmp_path / "tree" / "fixtures" / "b.env", f"ACME_PWD={acme_password(rng)}\n"
                                                    f"NOTION={token}\n")
    write(tmp_path / "tree" / "README.md", f"Example token: {token}\nReal: {token}\n")
    write(tmp_path / "tree" / "c.env", f"acme_key = acme_{'x1' * 16} gitleaks:allow\n"
                                       f"acme_key = {acme_key(rng)} opsd:allow\n")
    # stop word, line regex, global regex; global path (built-in rule too); targetRules on
    # the built-in notion-token; gitleaks' and opsd's allow markers
    assert found(scan(tmp_path)) == [("README.md", 2, "notion-token")]


def test_builtin_finding_wins_over_a_custom_one_at_the_same_place(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nid = "team-notion"\nregex = \'\'\'ntn_[0-9A-Za-z]{46}\'\'\'\n'
                     'keywords = ["ntn_"]\n')
    (token,) = tokens(1, seed=4)
    write(tmp_path / "tree" / "a.py", f'T = "{token}"\n')
    assert found(scan(tmp_path, rules)) == [("a.py", 1, "notion-token")]


def test_the_rules_file_is_part_of_the_cache_key(tmp_path: Path) -> None:
    first = tmp_path / "one.toml"
    first.write_text('[[rules]]\nid = "a"\nregex = "xyz[0-9]{8}"\n')
    second = tmp_path / "two.toml"
    second.write_text('[[rules]]\nid = "a"\nregex = "xyz[0-9]{9}"\n')
    assert ScanOptions().ruleset != ScanOptions(custom=load_rules_file(first)).ruleset
    assert (ScanOptions(custom=load_rules_file(first)).ruleset
            != ScanOptions(custom=load_rules_file(second)).ruleset)


# --- the command line -------------------------------------------------------------------------


def test_cli_rules_file_with_baseline(tmp_path: Path, opsd_cli, make_config) -> None:
    rng = random.Random(21)
    key, later = acme_key(rng), acme_key(rng)
    (tmp_path / "gitleaks.toml").write_text(TEAM_RULES.read_text())
    config = make_config(secrets={"rules_file": "gitleaks.toml", "verify": False})
    write(tmp_path / "tree" / "deploy.sh", f"KEY={key}\n")
    result = opsd_cli("scan", "--config", str(config), "tree", "--json")
    assert result.code == 2, result.err
    (finding,) = json.loads(result.out)["findings"]
    assert (finding["rule"], finding["line"], finding["column"]) == ("acme-deploy-key", 1, 5)
    accepted = opsd_cli("scan", "--config", str(config), "tree", "--update-baseline", "b.json")
    assert accepted.code == 0, accepted.err
    assert opsd_cli("scan", "--config", str(config), "tree", "--baseline", "b.json").code == 0
    write(tmp_path / "tree" / "deploy.sh", f"# moved\nKEY={key}\nOTHER={later}\n")
    sarif = opsd_cli("scan", "--config", str(config), "tree", "--baseline", "b.json",
                     "--format", "sarif")
    assert sarif.code == 2
    (run,) = json.loads(sarif.out)["runs"]
    assert [(r["ruleId"], r["baselineState"]) for r in run["results"]] == [
        ("acme-deploy-key", "unchanged"), ("acme-deploy-key", "new")
    ]
    assert run["tool"]["driver"]["rules"][0]["shortDescription"]["text"] == "ACME deploy key"
    assert_nowhere([key, later], result.out, accepted.out, sarif.out,
                   files=[tmp_path / "b.json"])


def test_cli_bad_rules_file_is_one_line_exit_3(tmp_path: Path, opsd_cli, make_config) -> None:
    (tmp_path / "gitleaks.toml").write_text('[[rules]]\nid = "x"\nregex = \'\'\'(?U)a+\'\'\'\n')
    config = make_config(secrets={"rules_file": "gitleaks.toml"})
    write(tmp_path / "tree" / "a.txt", "nothing\n")
    result = opsd_cli("scan", "--config", str(config), "tree")
    assert result.code == 3 and result.out == ""
    assert result.err.splitlines() == [
        f"opsd: rules_file {tmp_path / 'gitleaks.toml'}: rule 'x': regex: the ungreedy flag "
        "(?U) has no Python equivalent"
    ]


def test_check_kind_uses_the_rules_file_and_reports_a_bad_one(
    tmp_path: Path, opsd_cli, make_config
) -> None:
    key = acme_key(random.Random(22))
    write(tmp_path / "integration" / "deploy.sh", f"KEY={key}\n")
    (tmp_path / "gitleaks.toml").write_text(TEAM_RULES.read_text())
    config = make_config(
        secrets={"root": str(tmp_path / "integration"), "rules_file": "gitleaks.toml",
                 "verify": False},
        scheduler={"playbooks_dir": str(scan_playbook(tmp_path, paths=["."]))},
    )
    result = opsd_cli("--config", str(config), "check", "secrets", "--json")
    (check,) = json.loads(result.out)["results"]
    assert (result.code, check["status"], check["value"]) == (1, "WARNING", 1), result.err
    assert [f["rule"] for f in check["details"]["findings"]] == ["acme-deploy-key"]
    (tmp_path / "gitleaks.toml").write_text('[[rules]]\nid = "x"\nregex = "\\\\pL"\n')
    broken = opsd_cli("--config", str(config), "check", "secrets", "--json")
    (check,) = json.loads(broken.out)["results"]
    assert (broken.code, check["status"]) == (3, "UNKNOWN")
    assert check["summary"].startswith(f"rules_file {tmp_path / 'gitleaks.toml'}: rule 'x': "
                                       "regex: Unicode classes")
    assert_nowhere([key], result.out, result.err, broken.out)


def test_every_pattern_of_gitleaks_default_config_converts() -> None:
    data = json.loads((TEAM_RULES.parent / "gitleaks-default-patterns.json").read_text())
    assert len(data["rules"]) == 222
    for rule in data["rules"]:
        if "regex" in rule:
            pattern = to_python(rule["regex"])
            assert rule.get("secretGroup", 0) <= pattern.groups, rule["id"]
        for extra in [rule.get("path"), *rule.get("allowlist_patterns", [])]:
            if extra is not None:
                to_python(extra)
    for entry in data["allowlist"]:
        to_python(entry["pattern"])
    users = to_python(next(e["pattern"] for e in data["allowlist"]
                           if e["pattern"].startswith("^/Users/")))
    assert users.match("/Users/Alice/src/app") and not users.match("/users/alice/src")
