"""The README, the changelog and docs/*.md say only what exists: every relative link and
anchor resolves, every shell block parses, every ``manage.py X`` is a command and every
``make X`` a target.

Each failure names the file and the line, so a new document fails with where to look.
"""

import os
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from django.core.management import find_commands, get_commands

ROOT = Path(__file__).resolve().parent.parent
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
# Apps whose commands the docs may name although the suite's settings do not install them:
# the RQ backend's, installed by settings when TASKS_BACKEND names it.
OPTIONAL_COMMAND_APPS = ("django_rq", "django_tasks_rq")

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
MANAGE = re.compile(r"manage\.py\s+([A-Za-z_][\w-]*)")
MAKE = re.compile(r"(?:^|[\s;&|(])make\s+((?:[A-Za-z_][\w.-]*=\S*\s+)*)([A-Za-z][\w.-]*)")


def documents() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Block:
    language: str
    line: int  # of the first line inside the fence
    text: str


def split(path: Path) -> tuple[list[tuple[int, str]], list[Block]]:
    """``path``'s prose lines (numbered) and its fenced code blocks."""
    prose, blocks = [], []
    fence = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = (match.group(2)[0], len(match.group(2)))
            blocks.append(Block(match.group(3).lower(), number + 1, ""))
        elif fence is not None and line.strip().startswith(fence[0] * fence[1]):
            fence = None
        elif fence is not None:
            blocks[-1].text += line + "\n"
        else:
            prose.append((number, line))
    return prose, blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces as -."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    kept = "".join(
        ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N", "M")
    )
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in split(path)[0]:
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, line in split(path)[0]:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto: — not ours to check offline
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(ROOT)}:{number}"
            if not linked.exists():
                problems.append(f"{where}: link to {target!r}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where}: link to {target!r}: no heading has that anchor")
    return problems


@cache
def command_names() -> frozenset[str]:
    names = set(get_commands())
    for app in OPTIONAL_COMMAND_APPS:
        try:
            module = __import__(app)
        except ImportError:
            continue
        names.update(find_commands(os.path.join(module.__path__[0], "management")))
    return frozenset(names)


@cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    return frozenset(
        name
        for names in re.findall(r"^([A-Za-z0-9_.$() -]+?)\s*::?(?!=)", text, re.MULTILINE)
        for name in names.split()
    )


def code_pieces(path: Path) -> list[tuple[int, str, bool]]:
    """(line, code, is it shell) for every fenced block line and inline code span."""
    prose, blocks = split(path)
    pieces = []
    for block in blocks:
        for offset, line in enumerate(block.text.splitlines()):
            pieces.append((block.line + offset, line, block.language in SHELL_LANGUAGES))
    for number, line in prose:
        pieces += [(number, span, True) for _, span in INLINE_CODE.findall(line)]
    return pieces


def unknown_commands(path: Path) -> list[str]:
    problems = []
    for number, code, shell in code_pieces(path):
        where = f"{path.relative_to(ROOT)}:{number}"
        for name in MANAGE.findall(code):
            if name not in command_names():
                problems.append(f"{where}: `manage.py {name}`: no such command")
        if shell:
            for _, target in MAKE.findall(code):
                if target not in make_targets():
                    problems.append(f"{where}: `make {target}`: no such target in the Makefile")
    return problems


def unparsed_shell(path: Path) -> list[str]:
    problems = []
    for block in split(path)[1]:
        if block.language not in SHELL_LANGUAGES:
            continue
        result = subprocess.run(  # noqa: S603 - bash from the PATH, the block on stdin
            ["bash", "-n"], input=block.text, capture_output=True, text=True, check=False
        )
        if result.returncode:
            # bash names the line within the block: turn it into the document's line.
            error = re.sub(
                r"line (\d+)",
                lambda m, first=block.line: f"line {first + int(m.group(1)) - 1}",
                result.stderr.strip().replace("bash: ", ""),
            )
            problems.append(f"{path.relative_to(ROOT)}:{block.line}: shell block: {error}")
    return problems


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    problems = broken_links(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shell_block_parses(path):
    problems = unparsed_shell(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_manage_py_command_and_make_target_exists(path):
    problems = unknown_commands(path)
    assert not problems, "\n".join(problems)


def test_the_readme_stays_a_first_read():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_checks_name_the_file_and_line_of_what_is_wrong(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n## Real heading\n\n"
        "[ok](#real-heading) [gone](missing.md) [bad anchor](#no-such)\n\n"
        "```sh\nif then\n```\n\n"
        "Run `manage.py no_such_command` and `make no-such-target`.\n"
    )
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    make_targets.cache_clear()
    try:
        assert broken_links(page) == [
            "docs/page.md:5: link to 'missing.md': no such file",
            "docs/page.md:5: link to '#no-such': no heading has that anchor",
        ]
        assert unknown_commands(page) == [
            "docs/page.md:11: `manage.py no_such_command`: no such command",
            "docs/page.md:11: `make no-such-target`: no such target in the Makefile",
        ]
        [shell] = unparsed_shell(page)
        assert shell.startswith("docs/page.md:8: shell block:")
        assert "line 8" in shell
    finally:
        make_targets.cache_clear()
