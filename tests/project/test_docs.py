"""The docs stay true to the tree: documented commands parse, named paths exist, links resolve, no issue numbers."""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from helpers import REPO as ROOT
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCRIPTS = ("train", "analyze")
# (file relative to the root, the matched text): issue numbers tolerated for now; the lead can empty this.
ISSUE_ALLOWLIST: set[tuple[str, str]] = set()
ISSUE_NUMBER = re.compile(r"\bissues?[\s-]+#?\d+|\(#\d+\)", re.IGNORECASE)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
COMMAND = re.compile(r"\s*(?:[A-Z_]+=\S*\s+)*(?:train|analyze)(?:\s|$)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BACKTICK_PATH = re.compile(r"`((?:trainer|analyzer|tests|bench|docs|reports)/[\w./-]*)(?::[\w.]+)?`")
BARE_MODULE = re.compile(r"(?<![\w/.`])((?:trainer|analyzer|tests|bench)/[\w/]+\.py)\b")


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _command_lines(text: str) -> list[str]:
    """`train ...` / `analyze ...` lines of the shell code blocks, continuation lines joined."""
    lines = []
    for match in FENCE.finditer(text):
        if match.group(1) not in ("", "bash", "sh", "console"):
            continue
        for line in match.group(2).replace("\\\n", " ").splitlines():
            if not COMMAND.match(line):  # diagrams and other shell lines are not parsed
                continue
            words = shlex.split(line, comments=True)
            while re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # PYTHONPATH=DIR train ...
                words = words[1:]
            lines.append(shlex.join(words))
    return lines


def _documented_commands() -> list[tuple[str, str]]:
    return [(_rel(doc), line) for doc in DOCS for line in _command_lines(doc.read_text())]


def _typer_app(script: str) -> typer.Typer:
    """The typer app behind a console script, found through its entry point (so moved modules follow)."""
    (point,) = [p for p in entry_points(group="console_scripts") if p.name == script]
    module = importlib.import_module(point.value.split(":")[0])
    apps = [value for value in vars(module).values() if isinstance(value, typer.Typer)]
    assert apps, f"no typer app in {point.value}"
    return apps[0]


def _resolve(words: list[str]) -> tuple[list[str], object, list[str]]:
    """The subcommand path a command line names, its (click) command, and the option names it uses."""
    command = typer.main.get_command(_typer_app(words[0]))
    path: list[str] = []
    for word in words[1:]:
        if word in getattr(command, "commands", {}):  # a group (typer vendors click: no isinstance)
            command = command.commands[word]
            path.append(word)
        else:
            break
    options = []
    for word in words[1 + len(path):]:
        word = word.strip("[]")
        if word.startswith("-") and not re.fullmatch(r"-[\d.e+-]+", word):
            options.append(word.split("=", 1)[0])
    return path, command, options


def test_the_docs_show_commands_of_both_scripts():
    scripts = {line.split()[0] for _, line in _documented_commands()}
    assert scripts == set(SCRIPTS)


@pytest.mark.parametrize("doc,line", _documented_commands())
def test_documented_command_uses_only_existing_options(doc, line):
    path, command, options = _resolve(shlex.split(line))
    known = {"--help"}
    for param in command.params:
        known.update(param.opts)
        known.update(param.secondary_opts)
    unknown = [option for option in options if option not in known]
    assert not unknown, f"{doc}: `{line}` uses {unknown}, not options of `{' '.join([line.split()[0], *path])}`"


def test_every_documented_subcommand_has_help():
    runner = CliRunner()
    seen = set()
    for doc, line in _documented_commands():
        words = shlex.split(line)
        path, _, _ = _resolve(words)
        if (words[0], *path) in seen:
            continue
        seen.add((words[0], *path))
        result = runner.invoke(_typer_app(words[0]), [*path, "--help"])
        assert result.exit_code == 0, f"{doc}: `{words[0]} {' '.join(path)} --help` failed: {result.output}"


def test_paths_named_in_the_docs_exist():
    missing = []
    for doc in DOCS:
        text = doc.read_text()
        named = set(BACKTICK_PATH.findall(text)) | set(BARE_MODULE.findall(text))
        for name in sorted(named):
            if any(mark in name for mark in ("*", "<", "NAME")) or name.startswith(("reports/my", "data/")):
                continue
            if not (ROOT / name.rstrip("/.")).exists():
                missing.append(f"{_rel(doc)}: {name}")
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", markdown.read_text())
    headings = re.findall(r"^#+\s+(.*)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_relative_links_resolve():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(FENCE.sub("", doc.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (doc.parent / file_part).resolve() if file_part else doc
            if not resolved.exists():
                broken.append(f"{_rel(doc)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{_rel(doc)}: {target} (no such heading)")
    assert not broken, "links that do not resolve:\n" + "\n".join(broken)


def _issue_texts() -> list[tuple[str, str]]:
    """(file, text) pairs that must not name issues: README, docs, bench/RESULTS.md headings, bench docstrings."""
    texts = [(_rel(doc), doc.read_text()) for doc in DOCS]
    results = ROOT / "bench" / "RESULTS.md"
    texts.append((_rel(results), "\n".join(re.findall(r"^#+ .*$", results.read_text(), re.MULTILINE))))
    for script in sorted((ROOT / "bench").glob("*.py")):
        tree = ast.parse(script.read_text())
        nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)))]
        texts.append((_rel(script), "\n".join(ast.get_docstring(n) or "" for n in nodes)))
    return texts


def test_no_issue_numbers_in_docs_results_headings_or_bench_docstrings():
    found = [(name, match.group(0)) for name, text in _issue_texts() for match in ISSUE_NUMBER.finditer(text)]
    left = [f"{name}: {hit}" for name, hit in found if (name, hit) not in ISSUE_ALLOWLIST]
    assert not left, "issue numbers (say what was built or measured instead):\n" + "\n".join(left)


def test_the_issue_pattern_catches_the_usual_spellings():
    for text in ("issue 22", "(issue 13)", "Issue 24:", "issues 2 and", "issue #7", "fixed in (#12)"):
        assert ISSUE_NUMBER.search(text), text
    assert not ISSUE_NUMBER.search("an issue with 3 runs")


def test_python_examples_import_what_exists():
    """`from trainer... import X` / `import analyzer` in the docs' Python blocks name modules and names that exist."""
    missing = []
    for doc in DOCS:
        for match in FENCE.finditer(doc.read_text()):
            if match.group(1) != "python":
                continue
            for node in ast.walk(ast.parse(match.group(2))):
                if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] in ("trainer", "analyzer"):
                    module = importlib.import_module(node.module)
                    missing += [f"{_rel(doc)}: {node.module}.{a.name}" for a in node.names if not hasattr(module, a.name)]
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.split(".")[0] in ("trainer", "analyzer"):
                            importlib.import_module(alias.name)
                elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id == "analyzer" and not hasattr(importlib.import_module("analyzer"), node.attr)):
                    missing.append(f"{_rel(doc)}: analyzer.{node.attr}")
    assert not missing, "names the docs' Python examples use that do not exist:\n" + "\n".join(missing)
