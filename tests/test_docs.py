"""The README and docs stay true: every `python train.py` command they show composes as shown (what
``--cfg job`` checks), the README's group table lists exactly the options in conf/, and no page
links outside the repository."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from src.app.preflight import bad_command_line
from src.config.compose import CONF_DIR, ROOT_DIR, compose_config, config_options
from src.private_api import hydra_args_parser

PAGES = [ROOT_DIR / "README.md", *sorted((ROOT_DIR / "docs").glob("*.md"))]
COMMAND = re.compile(r"python (train|eval)\.py\b(.*)")


def shown_commands(page: Path) -> list[str]:
    """``train: ARGS`` for every ``python train.py ARGS`` a page shows (``eval: ARGS`` for eval.py): in code
    blocks (line continuations joined, comments dropped; ``$ ...`` lines are transcripts of refusals) and in
    inline code."""
    found, in_block, pending = [], False, ""
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            line, pending = pending + line, ""
            if line.rstrip().endswith("\\"):
                pending = line.rstrip()[:-1] + " "
                continue
            code = line.split(" #")[0]
            if (match := COMMAND.search(code)) and not code.lstrip().startswith("$"):
                found.append(f"{match.group(1)}: {match.group(2).strip()}")
        else:
            found += [
                f"{m.group(1)}: {m.group(2).strip()}"
                for c in re.findall(r"`([^`]+)`", line)
                if (m := COMMAND.search(c))
            ]
    return found


NO_SLURM = 'launcher: slurm: Could not detect "srun"'
CASES = [(page, args) for page in PAGES for args in shown_commands(page)]


def first_job(overrides: list[str]) -> list[str]:
    """A sweep's first job: each swept key at its first value."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    return [
        f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}" if o.is_sweep_override() else o.input_line
        for o in parsed
    ]


def test_the_pages_show_commands():
    assert len(CASES) >= 60 and {page for page, _ in CASES} >= {ROOT_DIR / "README.md", ROOT_DIR / "docs/scaling.md"}


@pytest.mark.slow
@pytest.mark.parametrize("page, args", CASES, ids=[f"{p.name}: {a}" for p, a in CASES])
def test_every_command_shown_composes(page, args, tmp_path):
    script, args = args.split(": ", 1)
    argv = shlex.split(args)
    if "--config-dir" in argv:  # a user's own config folder, named from the project's root (tests/byo/conf)
        argv[argv.index("--config-dir") + 1] = str(ROOT_DIR / argv[argv.index("--config-dir") + 1])
    for word in argv:  # a finished run to run again, as the page's folder
        if word.startswith("reproduce="):
            run = tmp_path / word.split("=", 1)[1]
            (run / ".hydra").mkdir(parents=True)
            (run / ".hydra" / "overrides.yaml").write_text("- model=mlp\n")
            (run / ".hydra" / "config.yaml").write_text("seed: 1\n")
            (run / "COMPLETED").write_text("0.9\n")
    problem = bad_command_line(argv, tmp_path, config_name=script)
    if problem and problem.startswith(NO_SLURM) and shutil.which("srun") is None:
        problem = None  # a cluster command: everything but the cluster itself was checked before this line
    assert problem is None, f"{page.name}: python {script}.py {args}"
    parsed = hydra_args_parser().parse_args(argv)
    if parsed.help or parsed.hydra_help or not parsed.multirun:  # a single run was composed whole above
        return
    search = [f"hydra.searchpath=[file://{parsed.config_dir}]"] if parsed.config_dir else []
    cfg = compose_config([*search, *first_job(parsed.overrides)], tmp_path, with_hydra=True, config_name=script)
    assert (cfg.model is None or cfg.model._target_) and cfg.module._target_ and cfg.trainer._target_


def group_table(readme: str) -> dict[str, set[str]]:
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \|", readme, flags=re.MULTILINE)
    return {group: set(re.findall(r"`(\w+)`", options)) for group, options in rows}


def test_the_readme_group_table_lists_every_option_of_each_group():
    table = group_table((ROOT_DIR / "README.md").read_text())
    assert {"model", "data", "optimizer", "trainer", "experiment"} <= set(table)
    for group, options in table.items():
        assert options == set(config_options(group)), group
    assert set(table) == {d.name for d in CONF_DIR.iterdir() if d.is_dir() and d.name != "hydra"}


def test_no_page_or_docstring_points_outside_the_repository():
    """Every Markdown file a page, docstring or config names is in the repository, every relative
    path stays inside it, and no link leaves it: a user who clones the project has nothing else."""
    texts = {p: p.read_text() for p in [*PAGES, *(ROOT_DIR / "src").rglob("*.py"), *CONF_DIR.rglob("*.yaml")]}
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.md"],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    in_repo = {Path(p).name for p in tracked.stdout.split()} | {"report.md"}  # the report's own
    for path, text in texts.items():
        named = set(re.findall(r"([\w-]+\.md)\b", text))
        assert named <= in_repo, f"{path} names {sorted(named - in_repo)}"
        for relative in re.findall(r"((?:\.\./)+[\w./-]*)", text):
            assert (path.parent / relative).resolve().is_relative_to(ROOT_DIR), f"{path} points to {relative}"
        assert not re.search(r"\]\(https?:", text), path
    for page in PAGES:  # every relative link lands on a file
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}"


def test_the_readme_stays_short():
    assert len((ROOT_DIR / "README.md").read_text().splitlines()) <= 200
