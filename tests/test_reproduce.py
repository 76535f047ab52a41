"""python train.py reproduce=RUN: a finished run again from its record, into a new folder, compared."""

import json
import shutil

import pytest

from src.app.preflight import bad_command_line
from src.app.reproduce import compare_results, differences
from tests.conftest import QUIET, run_train
from tests.test_bring_your_own import BYO_CONF
from tests.test_seeds import fake_job


@pytest.mark.slow
def test_a_cpu_run_reproduced_says_what_differs_beforehand_and_is_identical(tmp_path):
    """A job of a sweep of a user's own module (its --config-dir given again), on this CPU."""
    byo = ["--config-dir", str(BYO_CONF)]
    run_train("-m", *byo, "model=dense", "seed=3", *QUIET, "trainer.max_epochs=2", "hydra.sweep.dir=sweep",
              cwd=tmp_path)  # fmt: skip
    (job,) = [folder for folder in (tmp_path / "sweep").iterdir() if (folder / ".hydra").is_dir()]
    record = json.loads((job / "provenance.json").read_text())
    installed = record["versions"]["torch"]
    record["versions"]["torch"] = "2.13.0"  # as if the original ran with another torch, on 7 threads
    record["device"]["threads"] = 7
    (job / "provenance.json").write_text(json.dumps(record))
    done = run_train(*byo, f"reproduce=sweep/{job.name}", "hydra.run.dir=again", cwd=tmp_path)
    said = done.stdout + done.stderr
    before = next(line for line in said.splitlines() if "Reproducing " in line)
    assert f"torch: 2.13.0 -> {installed}" in before and "threads: 7 -> " in before and "commit" not in before
    assert f"Reproduced {job}: identical, every final metric" in said
    kept = json.loads((tmp_path / "again" / "reproduction.json").read_text())
    assert kept["identical"] and kept["metrics"]["test_acc"]["original"] == kept["metrics"]["test_acc"]["now"]
    recorded = (tmp_path / "again" / ".hydra" / "overrides.yaml").read_text()
    assert "seed=3" in recorded and "model=dense" in recorded  # its own command (a launcher would be left out)
    assert (tmp_path / "again" / "COMPLETED").is_file()


def test_different_final_metrics_are_each_said_with_their_size(tmp_path):
    fake_job(tmp_path, "a", ["seed=1"], [0.5, 0.8])
    fake_job(tmp_path, "b", ["seed=1"], [0.5, 0.7])
    lines = compare_results(tmp_path / "a", tmp_path / "b", [])
    assert lines[0] == f"Reproduced {tmp_path / 'a'}: 2 of 2 final metrics differ from the original's:"
    assert lines[1:] == ["  test/acc: 0.800000011920929 -> 0.699999988079071 (-0.1)",
                         "  val/acc: 0.800000011920929 -> 0.699999988079071 (-0.1)"]  # fmt: skip
    assert differences(None, {})[0].startswith("the original recorded no provenance.json")


def completed_run(folder, overrides: list[str]):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {json.dumps(o)}\n" for o in overrides))
    (folder / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (folder / "COMPLETED").write_text("0.9\n")
    return folder


def test_what_cannot_be_reproduced_is_refused_in_one_line_and_nothing_the_folder_names_is_run(tmp_path):
    completed_run(tmp_path / "run", ["model=mlp", "seed=3", "launcher=parallel"])
    assert bad_command_line(["reproduce=run", "hydra.run.dir=again"], tmp_path) is None  # its launcher left out
    assert bad_command_line(["reproduce=run", "seed=4"], tmp_path) == (
        "reproduce: takes the run's own settings, so no other override (seed=4); hydra.run.dir=... chooses the "
        "new folder"
    )
    assert bad_command_line(["-m", "reproduce=run"], tmp_path) == "reproduce: runs one finished run again: leave out -m"
    assert bad_command_line(["reproduce=nothere"], tmp_path).startswith(
        f"reproduce: {tmp_path / 'nothere'} holds no finished run"
    )
    shutil.rmtree(tmp_path / "run")
    completed_run(tmp_path / "run", ["model=mlp", "+module.hook._target_=os.system"])
    assert bad_command_line(["reproduce=run"], tmp_path).startswith(
        f"reproduce: {tmp_path / 'run'}'s recorded settings give module.hook._target_='os.system', which no config "
        "here names under module: refused"
    )
    shutil.rmtree(tmp_path / "run")
    completed_run(tmp_path / "run", ["model=mlp", "seed=${oc.env:HOME}"])
    assert bad_command_line(["reproduce=run"], tmp_path).startswith(
        f"reproduce: {tmp_path / 'run' / '.hydra' / 'overrides.yaml'} holds 'seed=${{oc.env:HOME}}', an interpolation"
    )
