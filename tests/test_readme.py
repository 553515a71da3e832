"""The README's examples stay true: every `thinkgate` command in it parses with the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from router.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_commands() -> list[str]:
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip().rstrip("&").strip()
            if line.startswith("thinkgate "):
                commands.append(line)
    return commands


COMMANDS = _bash_commands()


def test_readme_has_the_two_quickstart_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    assert "make demo" in quickstart and "make test" in quickstart
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M)
    assert re.search(r"^test:", makefile, flags=re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_commands() -> None:
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_parses(command: str) -> None:
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert callable(args.func)


def test_readme_paths_exist() -> None:
    folders = "router|difficulty|policies|deploy|bench|tests"
    for path in re.findall(rf"`((?:{folders})/[\w./-]+)`", README):
        if "*" in path or path.endswith("/"):
            continue
        assert (ROOT / path).exists(), path


def test_where_things_live_names_every_package() -> None:
    section = README.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([\w/]+)/` \|", section, flags=re.M))
    packages = {
        str(init.parent.relative_to(ROOT))
        for top in ("difficulty", "policies", "router")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert packages <= listed, sorted(packages - listed)
    assert all((ROOT / folder).is_dir() for folder in listed), sorted(listed)
