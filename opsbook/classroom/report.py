"""``opsbook class report ASSIGNMENT``: item analysis of a graded class, as HTML and CSV.

Per exercise (each graded cell of the gradebook): the mean score, the share of
full marks, the discrimination and the most frequent first failing messages;
a histogram of the totals; the integrity flags of the run. Read from what
``opsbook class grade`` wrote: nbgrader's gradebook (the scores, manual grades
included), the autograded notebooks (the judge's message in each failed test
cell) and ``class_grading/<assignment>/state.jsonl`` and ``integrity/``.

The discrimination of an exercise is its corrected item-total correlation: the
Pearson correlation, over the submissions, of the exercise's score with the
total of the *other* exercises. Near 0 or negative, the exercise does not
separate students who do well from those who do not (it is too easy, too hard,
or measures something else, e.g. a confusing statement); it is undefined when
everyone scores the same on the exercise or on the rest.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from opsbook.paths import ROOT

LOW_DISCRIMINATION = 0.2
TOP_MESSAGES = 3
CSV_COLUMNS = ("notebook", "exercise", "max_points", "submissions", "mean", "full_marks_share", "discrimination",
               *(f"{what}_{i}" for i in range(1, TOP_MESSAGES + 1) for what in ("message", "count")))


@dataclass
class Item:
    """One graded cell of the assignment and how the class did on it."""

    notebook: str
    exercise: str
    max_points: float
    scores: list[float] = field(default_factory=list)     # one per submission, in ``Analysis.students`` order
    messages: Counter = field(default_factory=Counter)    # first failing message -> submissions
    mean: float = 0.0
    full_share: float = 0.0
    discrimination: float | None = None

    def top_messages(self, n: int = TOP_MESSAGES) -> list[tuple[str, int]]:
        return self.messages.most_common(n)


@dataclass
class Analysis:
    """The item analysis of one assignment."""

    assignment: str
    students: list[str]
    items: list[Item]
    entries: dict[str, dict]          # state.jsonl: student -> status, score, flags
    tampering: dict[str, list[str]]   # integrity/<student>.json: what zeroed a submission

    @property
    def totals(self) -> list[float]:
        return [sum(item.scores[i] for item in self.items) for i in range(len(self.students))]

    @property
    def max_total(self) -> float:
        return sum(item.max_points for item in self.items)


def corrected_item_total(scores: list[list[float]]) -> list[float | None]:
    """Per column of ``scores`` (rows: submissions), the correlation of the column with the sum of the others."""
    columns = list(zip(*scores)) if scores else []
    totals = [sum(row) for row in scores]
    return [_pearson(list(column), [t - x for t, x in zip(totals, column)]) for column in columns]


def _pearson(x: list[float], y: list[float]) -> float | None:
    n = len(x)
    if n < 3:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sxy / math.sqrt(sxx * syy)


def analyse(assignment: str, course_root: Path = ROOT) -> Analysis:
    """Read the gradebook, the autograded notebooks and the run's state; compute every exercise's statistics."""
    import warnings

    from nbgrader.api import Gradebook

    from opsbook.classroom.course import ClassCourse, ClassGradingError, State

    course = ClassCourse(course_root, assignment)
    notebooks = course.notebooks()
    items = [Item(nb_id, grade_id, float(points)) for nb_id, info in notebooks.items()
             for grade_id, points in _graded_cells(info["release"], info["master"])]
    scores: dict[str, dict[tuple[str, str], float]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy session notices from nbgrader's gradebook
        with Gradebook(course.db_url, course.course_id) as gb:
            for submission in gb.assignment_submissions(assignment):
                scores[submission.student.id] = {(nb.name, grade.name): float(grade.score or 0.0)
                                                 for nb in submission.notebooks for grade in nb.grades}
    if not scores:
        raise ClassGradingError(f"no graded submission of {assignment!r}: run `opsbook class grade {assignment}`")
    state = State(course.state / "state.jsonl").entries
    students = sorted(scores)
    for student in students:
        executed = {nb_id: _read(course.folder("autograded", student) / f"{nb_id}.ipynb") for nb_id in notebooks}
        for item in items:
            score = scores[student].get((item.notebook, item.exercise), 0.0)
            item.scores.append(score)
            if score < item.max_points:
                item.messages[_first_failure(executed[item.notebook], item.exercise,
                                             state.get(student, {}).get("status", "graded"))] += 1
    matrix = [list(row) for row in zip(*[item.scores for item in items])]
    for item, discrimination in zip(items, corrected_item_total(matrix)):
        item.mean = sum(item.scores) / len(item.scores)
        item.full_share = sum(1 for s in item.scores if s >= item.max_points) / len(item.scores)
        item.discrimination = discrimination
    tampering = {}
    for student in students:
        path = course.state / "integrity" / f"{student}.json"
        if path.is_file():
            found = json.loads(path.read_text(encoding="utf-8")).get("tampering") or []
            if found:
                tampering[student] = found
    return Analysis(assignment, students, items, {s: state[s] for s in students if s in state}, tampering)


def _graded_cells(release: str, master: dict) -> list[tuple[str, float]]:
    """(grade id, points) of every graded cell, in the order of the released notebook."""
    cells = json.loads(release).get("cells", [])
    order = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in cells]
    graded = [(name, info["points"]) for name, info in master.items() if info.get("points") is not None]
    return sorted(graded, key=lambda g: order.index(g[0]) if g[0] in order else len(order))


def _read(path: Path):  # an nbformat NotebookNode, or None
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def _first_failure(nb, grade_id: str, status: str) -> str:  # noqa: ANN001 - NotebookNode or None
    """The message of the first failure of the test cell ``grade_id`` in an autograded notebook."""
    from opsbook.grading.nbcourse import failure_message

    if nb is None:
        return f"not run ({status})"
    cell = next((c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id), None)
    if cell is not None and cell.cell_type == "markdown":
        return "a written answer, graded by hand in the formgrader (0 until it is)"
    return failure_message(cell) if cell is not None else "the cell is missing from the notebook"


def write_report(analysis: Analysis, out: Path) -> tuple[Path, Path]:
    """``out/report.html`` (with the totals histogram, also ``out/totals.png``) and ``out/report.csv``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    histogram_figure(analysis).savefig(buffer, format="png")
    png = buffer.getvalue()
    (out / "totals.png").write_bytes(png)
    with (out / "report.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in analysis.items:
            top = item.top_messages()
            top += [("", 0)] * (TOP_MESSAGES - len(top))
            writer.writerow([item.notebook, item.exercise, f"{item.max_points:g}", len(item.scores),
                             f"{item.mean:.4f}", f"{item.full_share:.4f}",
                             "" if item.discrimination is None else f"{item.discrimination:.4f}",
                             *(value for message, count in top for value in (message, count or ""))])
    (out / "report.html").write_text(_html(analysis, png), encoding="utf-8")
    return out / "report.html", out / "report.csv"


def class_report(assignment: str, course_root: Path = ROOT, out: Path | None = None) -> tuple[Analysis, Path, Path]:
    """Analyse ``assignment`` and write its report (default ``class_grading/<assignment>/``)."""
    from opsbook.classroom.course import STATE_DIR

    analysis = analyse(assignment, course_root)
    page, table = write_report(analysis, out or Path(course_root).resolve() / STATE_DIR / assignment)
    return analysis, page, table


def histogram_figure(analysis: Analysis):  # noqa: ANN201 - a matplotlib Figure
    """The histogram of the submissions' totals (a figure of its own: no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    totals, top = analysis.totals, analysis.max_total
    figure = Figure(figsize=(7, 3.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bins = [b - 0.5 for b in range(int(math.ceil(top)) + 2)] if top <= 60 else 20
    axes.hist(totals, bins=bins, range=None if top <= 60 else (0, top), color="#4C72B0", edgecolor="white")
    axes.set_title(f"{analysis.assignment}: totals of {len(totals)} submissions")
    axes.set_xlabel(f"total points (out of {top:g})")
    axes.set_ylabel("submissions")
    axes.set_xlim(-0.5, top + 0.5)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def _html(analysis: Analysis, png: bytes) -> str:
    e = html.escape
    totals = sorted(analysis.totals)
    n = len(totals)
    median = (totals[(n - 1) // 2] + totals[n // 2]) / 2
    rows = []
    for item in analysis.items:
        d = item.discrimination
        note = " class='low'" if d is not None and d < LOW_DISCRIMINATION else ""
        messages = "".join(f"<li>{e(m)} <b>×{c}</b></li>" for m, c in item.top_messages())
        rows.append(f"<tr><td>{e(item.exercise)}</td><td>{e(item.notebook)}</td><td>{item.max_points:g}</td>"
                    f"<td>{item.mean:.2f}</td><td>{item.full_share:.0%}</td>"
                    f"<td{note}>{'—' if d is None else f'{d:.2f}'}</td><td><ul>{messages}</ul></td></tr>")
    statuses = Counter(entry.get("status", "graded") for entry in analysis.entries.values())
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    flagged = [(s, entry) for s, entry in sorted(analysis.entries.items()) if entry.get("flags")]
    kinds = Counter(flag.partition(":")[0] for _, entry in flagged for flag in entry["flags"])
    flag_rows = "".join(
        f"<tr><td>{e(s)}</td><td>{e(str(entry.get('status')))}</td><td>{entry.get('score', 0):g}</td>"
        f"<td>{e(', '.join(entry['flags']))}</td><td>{e('; '.join(analysis.tampering.get(s, [])))}</td></tr>"
        for s, entry in flagged)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Item analysis: {e(analysis.assignment)}</title>
<style>body{{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}}ul{{margin:0;padding-left:1rem}}.low{{background:#fde2e1}}</style></head>
<body><h1>Item analysis: {e(analysis.assignment)}</h1>
<p>{n} graded submissions; total out of {analysis.max_total:g}: mean {sum(totals) / n:.2f}, median {median:g},
lowest {totals[0]:g}, highest {totals[-1]:g}. Outcomes: {e(outcomes)}.</p>
<img alt="Histogram of the totals" src="data:image/png;base64,{base64.b64encode(png).decode()}">
<h2>Exercises</h2>
<p><b>Mean</b>: points scored on average. <b>Full marks</b>: share of submissions with every point.
<b>Discrimination</b>: correlation of the exercise's score with the rest of the assignment (corrected
item-total correlation); below {LOW_DISCRIMINATION} (shaded) the exercise hardly separates stronger from weaker
submissions: read its statement and its checks again; — means everyone scored the same on it.
<b>Messages</b>: the most frequent first failure of its test among the submissions that lost points.</p>
<table><tr><th>exercise</th><th>notebook</th><th>max</th><th>mean</th><th>full marks</th><th>discrimination</th>
<th>most frequent first failing messages</th></tr>
{''.join(rows)}</table>
<h2>Integrity</h2>
<p>{len(flagged)} of {len(analysis.entries)} submissions have flags
({e(', '.join(f'{k} {v}' for k, v in kinds.most_common())) or 'none'}). Details: <code>integrity.md</code>
and <code>integrity/&lt;student&gt;.json</code> beside this report.</p>
<table><tr><th>student</th><th>status</th><th>points</th><th>flags</th><th>tampering</th></tr>{flag_rows}</table>
</body></html>
"""
