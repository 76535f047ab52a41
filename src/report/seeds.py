"""Runs that repeat one setting with several seeds, aggregated: per group, n, mean, standard deviation and a
95% confidence interval; between two groups that differ in one setting, the difference of means with its
95% interval and Welch's t-test (SciPy), said in words against the seed-to-seed spread.

A group is every job with the same values of every varying key but the repeated one (``seed``). A group
of one seed has no spread to measure: it says so, with no interval, rather than a zero-width one.
"""

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """n values: their mean, sample standard deviation and the t-interval of the mean (None for one value)."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None

    def cells(self) -> list[str]:
        if self.std is None:
            return [str(self.n), f"{self.mean:.4f}", "one seed: no spread", ""]
        return [str(self.n), f"{self.mean:.4f}", f"{self.std:.4f}", f"[{self.low:.4f}, {self.high:.4f}]"]


def summarize(values: list[float]) -> Summary:
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Summary(n, mean, None, None, None)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Difference:
    """Mean of ``b`` less mean of ``a``, its Welch 95% interval and p-value; None where a group has one value."""

    delta: float
    low: float | None
    high: float | None
    p: float | None

    def words(self) -> str:
        if self.p is None:
            return "a group has one seed: no test"
        if self.low <= 0 <= self.high:
            return f"within the seed-to-seed spread (p = {self.p:.3g})"
        return f"{'higher' if self.delta > 0 else 'lower'} beyond the seed-to-seed spread (p = {self.p:.3g})"


def welch(a: list[float], b: list[float]) -> Difference:
    """The difference of means ``mean(b) - mean(a)`` with Welch's (unequal variances) interval and t-test."""
    sa, sb = summarize(a), summarize(b)
    delta = sb.mean - sa.mean
    if sa.std is None or sb.std is None:
        return Difference(delta, None, None, None)
    va, vb = sa.std**2 / sa.n, sb.std**2 / sb.n
    if va + vb == 0:  # identical values in each group: any difference is exact
        return Difference(delta, delta, delta, 1.0 if delta == 0 else 0.0)
    dof = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
    half = stats.t.ppf((1 + CONFIDENCE) / 2, dof) * math.sqrt(va + vb)
    with warnings.catch_warnings():  # two groups of the same values (NumPy's MLP and PyTorch's): SciPy warns
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
    return Difference(delta, delta - half, delta + half, p)


def groups_of(settings: list[dict[str, str]], repeat: str) -> dict[tuple[tuple[str, str], ...], list[int]]:
    """Indices of ``settings`` by their values of every key but ``repeat``, in first-seen order."""
    keys = sorted({k for s in settings for k in s if k != repeat})
    found: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for index, setting in enumerate(settings):
        found.setdefault(tuple((k, setting.get(k, "")) for k in keys), []).append(index)
    return found


def one_apart(groups: list[tuple[tuple[str, str], ...]]) -> list[tuple[int, int, str]]:
    """Pairs of groups (by index) whose settings differ in exactly one key, with that key."""
    pairs = []
    for i, a in enumerate(groups):
        for j in range(i + 1, len(groups)):
            differ = [ka for (ka, va), (_, vb) in zip(a, groups[j]) if va != vb]
            if len(differ) == 1:
                pairs.append((i, j, differ[0]))
    return pairs


def group_summaries(runs: list, keys: list[str], columns: list[tuple[str, str, bool]], repeat: str):
    """``(group name, metric header, Summary)`` for each group of ``runs`` with results that repeat ``repeat``,
    per metric every job of the sweep has (the monitored one by its best, the others by their last value)."""
    done = [run for run in runs if run.has_results]
    groups = groups_of([{k: str(run.overrides.get(k, "")) for k in keys} for run in done], repeat)
    for header, values, names in metric_groups(done, groups, columns):
        for name, group in zip(names, values):
            yield name, header, summarize(group)


def metric_groups(done: list, groups: dict, columns: list[tuple[str, str, bool]]):
    """``(header, values per group, group names)`` for each metric every job logged."""
    names = [",".join(f"{k}={v}" for k, v in group) or "all" for group in groups]
    for header, tag, best in columns:
        values = [[(done[i].best() if best else done[i].last(tag)) for i in members] for members in groups.values()]
        if not any(v is None for group in values for v in group):
            yield header, values, names


def seeds_section(
    runs: list, keys: list[str], columns: list[tuple[str, str, bool]], out: Path, repeat: str
) -> list[str]:
    """The report's section of ``runs`` (with results) that repeat ``repeat``: per metric, a table of the groups
    (n, mean, standard deviation, 95% interval), then each pair of groups one setting apart, then the
    monitored metric's curves as mean and band per group."""
    from src.report.figures import plot_mean_band

    done = [run for run in runs if run.has_results]
    groups = groups_of([{k: str(run.overrides.get(k, "")) for k in keys} for run in done], repeat)
    if not done or repeat not in keys:
        return []
    lines = [f"## Across seeds ({repeat})", "", f"{len(done)} job(s) with results in {len(groups)} group(s), "
             f"each the jobs with the same settings but `{repeat}`. Intervals are 95% (Student's t); a difference "
             "is the second group's mean less the first's, with Welch's 95% interval and t-test.", ""]  # fmt: skip
    pairs = one_apart(list(groups))
    names = []
    for header, values, names in metric_groups(done, groups, columns):
        lines += [f"### {header}", "", "| group | n | mean | std | 95% CI |", "|---|---|---|---|---|"]
        lines += [f"| {name} | " + " | ".join(summarize(v).cells()) + " |" for name, v in zip(names, values)]
        if pairs:
            header_row = "| setting | first | second | alike | difference | 95% CI | p | in words |"
            lines += ["", header_row, "|---" * 8 + "|"]
        for i, j, key in pairs:
            diff = welch(values[i], values[j])
            first, second = dict(list(groups)[i])[key], dict(list(groups)[j])[key]
            alike = ",".join(f"{k}={v}" for k, v in list(groups)[i] if k != key) or "-"
            interval = "" if diff.low is None else f"[{diff.low:+.4f}, {diff.high:+.4f}]"
            p = "" if diff.p is None else f"{diff.p:.3g}"
            cells = f"| {key} | {first} | {second} | {alike} | {diff.delta:+.4f} | {interval} | {p} | {diff.words()} |"
            lines.append(cells)
        lines.append("")
    monitored = next((tag for _, tag, best in columns if best), None)
    if monitored is not None and names:
        by_name = {name: [done[i] for i in members] for name, members in zip(names, groups.values())}
        figure = plot_mean_band(by_name, monitored, f"{monitored}: mean and one standard deviation across seeds",
                                out / "seeds.png")  # fmt: skip
        lines += [f"![across seeds]({figure.name})", ""]
    return lines
