"""Wall time of the 17-length palindrome sweep with Hydra's serial launcher and with the parallel one.

    python benchmarks/sweep.py [max_epochs] [data_size]

Runs ``python train.py -m data.input_length='range(3,20)'`` twice, with reduced data and epochs
(defaults: 4 epochs of 50,000 samples; no early stopping, so every job does the same work): once
with Hydra's basic launcher (one job after another, each with all cores' threads) and once with
``launcher=parallel`` (joblib, one job per core, one thread each). Prints both wall times and, as
its last line, ``ratio parallel/serial speedup: S`` (serial time / parallel time).
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sweep_seconds(output_dir: Path, *extra: str, max_epochs: int, data_size: int) -> float:
    args = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        "data.input_length=range(3,20)",
        f"trainer.max_epochs={max_epochs}",
        f"data.data_size={data_size}",
        "callbacks.early_stopping=null",
        "trainer=cpu",
        "hydra.callbacks.sweep_summary.report=false",
        f"hydra.sweep.dir={output_dir}",
        *extra,
    ]
    start = time.perf_counter()
    subprocess.run(args, cwd=output_dir.parent, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    completed = (output_dir / "summary.tsv").read_text().count("\tCOMPLETED\t")
    assert completed == 17, f"{completed} of 17 jobs completed in {output_dir}"
    return seconds


def main(max_epochs: int = 4, data_size: int = 50_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        serial = sweep_seconds(Path(tmp) / "serial", max_epochs=max_epochs, data_size=data_size)
        print(f"serial   (basic launcher)          {serial:6.1f} s", flush=True)
        parallel = sweep_seconds(
            Path(tmp) / "parallel", "launcher=parallel", max_epochs=max_epochs, data_size=data_size
        )
        print(f"parallel (launcher=parallel)       {parallel:6.1f} s", flush=True)
    print(f"ratio parallel/serial speedup: {serial / parallel:.2f}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
