"""One word per thing (docs/glossary.md): the retired names stay out of the code, the `--json` keys and the committed
reports, except the read-only aliases that CHANGELOG.md lists."""

from __future__ import annotations

import io
import json
import re
import tokenize
from pathlib import Path

import pytest
from study_fakes import summary

from analyzer.study.build import build_study
from analyzer.study.collect import StudyOptions
from analyzer.study.report import to_json

from helpers import REPO as ROOT
CODE = ("analyzer", "trainer")

# (retired name as a regex, the word that replaced it, the code folders where it is retired)
RETIRED_IN_CODE = [
    (r"\bseed_runs\b", "network_runs", CODE),
    (r"\bis_seed_run\b", "is_network_run", CODE),
    (r"\bseed_runs_only\b", "network_runs_only", CODE),
    (r"\bn_seed_runs\b", "n_network_runs", CODE),
    (r"\b[Ss]eed runs?\b", "network run(s)", CODE),
    (r"""role\s*==\s*["']seed["']|else\s+["']seed["']""", 'role "network"', CODE),
    (r"(?i)\bseeds?[ -]?00[0-3]\b|\bseeds 001-003\b", "the authors' names (glossary: source paper)", CODE),
    (r"\bEDGE_MODES\b", "EDGE_RULES", CODE),
    (r"plateau edges and midpoints", "plateau starts, middles and ends", CODE),
    (r"\bfreq_hz\b", "mode (with mode_unit)", ("analyzer/study", "analyzer/stats")),
    (r"\bverdict\b", "outcome (only a claim has a verdict)", ("analyzer/analyses",)),
]
# the documented read-only aliases (CHANGELOG.md): file -> the retired names it may still write, and how often
ALIASES = {
    "analyzer/study/report.py": {r"\bn_seed_runs\b": 2},  # legacy_keys: its docstring and the key
    "analyzer/study/claims/spectral_tables.py": {r"\bfreq_hz\b": 2},  # json_modes: its docstring and the column
}
RETIRED_IN_REPORTS = [
    (r"\b[Ss]eed runs?\b", "network run(s)"),
    (r"(?i)\bseeds?[ -]?00[0-3]\b|\bseeds 001-003\b", "the authors' names"),
    (r"^\| [^|]* \| seed \| ", "role network"),
    (r"\(role seed\)", "(role network)"),
    (r"plateau edges and midpoints", "plateau starts, middles and ends"),
]
KEY_ALIASES = {"n_seed_runs": "n_network_runs", "freq_hz": "mode"}  # retired --json keys, kept beside their new key


def code_words(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every identifier, comment and string literal (docstrings included) of a Python file; literals
    written next to each other ("seeds " "001") are joined, as Python joins them."""
    words, literal = [], None
    for token in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if token.type == tokenize.STRING:
            body = re.sub(r"""^[rbfuRBFU]*('\'\'|"\"\"|'|")|('\'\'|"\"\"|'|")$""", "", token.string)
            literal = (token.start[0], body) if literal is None else (literal[0], literal[1] + body)
            continue
        if token.type == tokenize.NL and literal is not None:
            continue
        if literal is not None:
            words.append(literal)
            literal = None
        if token.type in (tokenize.NAME, tokenize.COMMENT):
            words.append((token.start[0], token.string))
    return words + ([literal] if literal is not None else [])


def retired_in_code(root: Path = ROOT) -> list[str]:
    """Every use of a retired name in the code, beyond the allowed aliases: 'file:line: name -> replacement'."""
    found = []
    for folder in CODE:
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            words = code_words(path)
            source = path.read_text(encoding="utf-8")
            for pattern, new, scope in RETIRED_IN_CODE:
                if not rel.startswith(scope):
                    continue
                # a word or a literal; and the whole source for patterns that span tokens (role == "seed")
                hits = [line for line, text in words if re.search(pattern, text)]
                hits += [source.count("\n", 0, m.start()) + 1 for m in re.finditer(pattern, source)
                         if " " in pattern or "==" in pattern]
                hits = sorted(set(hits))
                allowed = ALIASES.get(rel, {}).get(pattern, 0)
                if len(hits) > allowed:
                    found += [f"{rel}:{line}: {pattern} -> {new}" for line in hits]
    return found


def retired_in_reports(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / "reports").rglob("*.md")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for pattern, new in RETIRED_IN_REPORTS:
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(root)}:{number}: {pattern} -> {new}")
    return found


def json_keys(value, keys=None) -> set[str]:
    keys = set() if keys is None else keys
    if isinstance(value, dict):
        for key, item in value.items():
            keys.add(key)
            json_keys(item, keys)
    elif isinstance(value, list):
        for item in value:
            json_keys(item, keys)
    return keys


def test_the_code_uses_no_retired_name():
    assert retired_in_code() == []


def test_the_committed_reports_use_no_retired_name():
    assert retired_in_reports() == []


def test_the_check_finds_a_retired_name_put_back(tmp_path):
    """The scan fails on a reintroduced name: a copy of one module with `network_runs` renamed back."""
    module = ROOT / "analyzer/study/build.py"
    copy = tmp_path / "analyzer/study/build.py"
    copy.parent.mkdir(parents=True)
    copy.write_text(module.read_text().replace("network_runs", "seed_runs"))
    (tmp_path / "trainer").mkdir()
    assert any("seed_runs" in hit for hit in retired_in_code(tmp_path))
    report = tmp_path / "reports/x/REPORT.md"
    report.parent.mkdir(parents=True)
    report.write_text("Mean across seed runs, as seed 000 says.\n")
    assert len(retired_in_reports(tmp_path)) == 2


@pytest.fixture(scope="module")
def study_json():
    """`analyze study --json` of network runs in two groups with float-rounding replicates (made by hand)."""
    runs = [summary(f"{group}-s{seed}", [105.0], [100.0], preset=group, seed=seed, learned=(50.0 + seed, 300.0))
            for group in ("a", "b") for seed in range(3)]
    runs += [summary(f"a-s0-r{k}", [105.0], [100.0], preset="a", seed=0, learned=(50.0 + k / 10, 300.0),
                     config={"perturb": 1e-7, "perturb_seed": k}) for k in range(1, 3)]
    study = build_study(runs, StudyOptions(hessian=False, n_permutations=99, n_resamples=200))
    return json.loads(json.dumps(to_json(study), default=float))


def test_the_study_json_writes_the_new_keys_and_keeps_the_old_ones_beside_them(study_json):
    keys = json_keys(study_json)
    assert {"n_network_runs", "mode", "mode_unit"} <= keys
    for old, new in KEY_ALIASES.items():
        assert old not in keys or new in keys, old
    assert study_json["n_network_runs"] == study_json["n_seed_runs"] == 6
    rows = study_json["table"] + study_json["noise_floor"]["table"] + study_json["noise_floor"]["differences"]
    assert rows and all(row["freq_hz"] == row["mode"] and row["mode_unit"] == "Hz" for row in rows)
    assert {run["role"] for run in study_json["runs"]} == {"network", "replicate"}
