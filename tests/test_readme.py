"""The README's two set-up commands exist, and CI runs exactly the test one."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.DOTALL)


def test_every_script_the_docs_name_exists() -> None:
    """Each `python -m scripts.…` the README and docs/ name is a module of this checkout."""
    named: set[str] = set()
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        named |= set(re.findall(r"python -m\s+(scripts(?:\.[a-z_]+)+)", doc.read_text(encoding="utf-8")))
    assert "scripts.bench" in named and "scripts.bench.batch" in named
    for module in sorted(named):
        assert importlib.util.find_spec(module) is not None, module


def test_the_readme_has_exactly_two_set_up_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    run, test = commands
    for command in (run, test):  # the CPU torch goes in before anything that depends on torch
        assert command.index("pip install torch==2.13.0") < command.index(" -e ")
        assert "-c constraints.txt" in command
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_and_fails_on_no_tests() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1] in ci.splitlines()
    assert "-eq 5" in ci


def readme_cli_commands() -> list[list[str]]:
    """The `hostmatch` commands of the README's two command-line sections, as argument lists (continued lines
    joined, comments dropped), in the order shown."""
    import shlex

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for title in ("## Using the command line", "## Matching a whole call"):
        section = text.split(title, 1)[1].split("\n## ", 1)[0]
        for block in re.findall(r"```console\n(.+?)\n```", section, flags=re.DOTALL):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                if line.startswith("$ hostmatch "):
                    commands.append(shlex.split(line[2:], comments=True)[1:])
    return commands


def test_the_readme_command_line_examples_use_files_that_exist() -> None:
    commands = readme_cli_commands()
    assert len(commands) >= 10
    inputs = {"--researcher", "--researchers", "--applicants", "--hosts", "--host-preferences", "--exclusions"}
    files = [args[i + 1] for args in commands for i, arg in enumerate(args) if arg in inputs]
    assert "examples/me.json" in files and "examples/applicants.jsonl" in files
    for name in files:
        assert (ROOT / name).is_file(), name


@pytest.mark.slow
def test_the_readme_command_line_examples_run_as_written(
    tmp_path: Path, shared_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command the README shows, in its order, after the set-up's `db load-sample`, from a folder laid out
    like the checkout."""
    import shutil

    from click.testing import CliRunner

    from scripts.cli import cli

    loaded = shared_cache_dir / "readme-home"
    if not (loaded / "hostmatch.sqlite3").exists():
        result = CliRunner().invoke(cli, ["--home", str(loaded), "db", "load-sample"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    home = tmp_path / "home"
    shutil.copytree(loaded, home)
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("examples", "models"):
        (work / name).symlink_to(ROOT / name)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOSTMATCH_HOME", str(home))
    outputs = {}
    for args in readme_cli_commands():
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        outputs[" ".join(args)] = result.stdout
    first_call = outputs["batch --applicants examples/applicants.jsonl --from-store --out call-2027/"]
    assert first_call.startswith("27 of 30 applicants assigned (90%)")
    assert "3 without a host: 3 no eligible host. Outputs in call-2027/" in first_call
    status = json.loads((work / "call-2027-web" / "status.json").read_text(encoding="utf-8"))
    assert status["stage"] == "done" and status["summary"]["assigned"] == 27
    for folder in ("call-2027", "call-2027-stable", "call-2027-file"):
        assert {p.name for p in (work / folder).iterdir()} == {
            "assignments.csv",
            "shortlists.csv",
            "report.json",
            "report.html",
        }
    matched = json.loads(outputs["match --researcher examples/me.json --json"])
    assert matched["matches"][0]["host_id"] == "h-b10"  # the lab the example researcher was written to fit
