"""``python -m src.report DIR`` writes DIR/report/; ``python -m src.report compare RUN_A RUN_B [...]`` writes a
comparison page (``--out``, default outputs/compare); ``python -m src.report --data moons`` plots a dataset."""

import argparse
import sys
from pathlib import Path

from src.report.runs import ReportError


def plot_toy_dataset(name: str, out_dir: Path) -> Path:
    from hydra.utils import instantiate

    from src.config.compose import CONF_DIR, compose_config
    from src.config.targets import allowing, execution_allowlist
    from src.report.figures import plot_dataset

    options = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml") if "generator:" in p.read_text())
    if name not in options:
        raise ReportError(f"--data {name}: not a toy dataset; choose one of: {', '.join(options)}")
    cfg = compose_config(["model=mlp", f"data={name}"], output_dir=".")
    with allowing(execution_allowlist(cfg)):
        datamodule = instantiate(cfg.data)  # the data set alone: a report builds no run
    datamodule.setup()
    splits = {s: (x.numpy(), y.numpy()) for s, (x, y) in datamodule.splits.items()}
    return plot_dataset(name, splits, out_dir / f"{name}.png")


def compare(argv: list[str]) -> Path:
    parser = argparse.ArgumentParser(prog="python -m src.report compare", description="runs side by side")
    parser.add_argument("runs", nargs="+", type=Path, help="run folders: single runs or jobs of sweeps")
    parser.add_argument("--out", type=Path, default=Path("outputs/compare"), help="where the page and figures go")
    args = parser.parse_args(argv)
    from src.report.compare import write_comparison

    return write_comparison(args.runs, args.out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m src.report", description=__doc__)
    parser.add_argument("dir", nargs="?", type=Path, help="a run (outputs/...) or a sweep (multirun/<date>/<time>)")
    parser.add_argument("--data", help="plot a toy dataset (moons, circles, hastie, multi) instead")
    parser.add_argument("--out", type=Path, default=Path("outputs/datasets"), help="where --data writes its PNG")
    parser.add_argument(
        "--repeat", default="seed", help="the key whose values repeat a setting: jobs are aggregated across it"
    )
    try:
        if argv[:1] == ["compare"]:
            print(compare(argv[1:]))
            return 0
        args = parser.parse_args(argv)
        if args.data:
            print(plot_toy_dataset(args.data, args.out))
        elif args.dir:
            from src.report.write import write_report

            print(write_report(args.dir, repeat=args.repeat))
        else:
            parser.error("give DIR or --data NAME")
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the folder to write into is read-only, full, or not a folder
        print(f"error: cannot write {error.filename or 'the report'}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
