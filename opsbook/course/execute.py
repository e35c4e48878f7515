"""Execute solution notebooks headless with papermill (``make course``) and summarise the run.

Each notebook runs with its ``DATA_DIR`` parameter in its own folder; the
executed copy and its HTML land in ``<out>/<id>/``, also when it fails, so a
failure can be read in the browser.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from opsbook.texttable import format_table

KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]  # no kernel transport warnings in the summary


@dataclass(frozen=True)
class RunResult:
    """How one notebook ran."""

    id: str
    seconds: float
    peak_mb: float
    error: str
    executed: Path
    html: Path

    @property
    def ok(self) -> bool:
        return not self.error


class _PeakMemory:
    """Sample the resident memory of this process's children (the kernel) until stopped."""

    def __init__(self, interval: float = 0.1):
        import psutil

        self._me = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.peak = 0

    def _sample(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for child in self._me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # the kernel exited between listing and reading
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_notebook(source: Path, out_dir: Path, data_dir: Path | None = None, timeout: int | None = None) -> RunResult:
    """Execute one notebook with papermill into ``out_dir``; write its HTML next to it."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / source.name
    parameters = {} if data_dir is None else {"DATA_DIR": str(Path(data_dir).resolve())}
    error = ""
    start = time.perf_counter()
    with _PeakMemory() as memory:
        try:
            papermill.execute_notebook(source, executed, parameters=parameters, kernel_name="python3",
                                       progress_bar=False, cwd=source.parent, execution_timeout=timeout,
                                       extra_arguments=KERNEL_ARGS)
        except papermill.PapermillExecutionError as exc:
            error = f"In [{exc.exec_count}]: {exc.ename}: {exc.evalue}".strip()
        except Exception as exc:  # noqa: BLE001 - kernel death, timeouts, bad parameters: report, keep going
            error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    html = executed.with_suffix(".html")
    if executed.is_file():
        body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        html.write_text(body, encoding="utf-8")
    return RunResult(source.stem, seconds, memory.peak / 2**20, error, executed, html)


def run_course(ids: list[str], source_root: Path, out: Path, data_dir: Path | None = None,
               timeout: int | None = None) -> list[RunResult]:
    """Run ``source_root/<id>/<id>.ipynb`` for every id, in order, printing one line per notebook."""
    results = []
    for nb_id in ids:
        print(f"running {nb_id} ...", flush=True)
        results.append(run_notebook(Path(source_root) / nb_id / f"{nb_id}.ipynb", Path(out) / nb_id,
                                    data_dir, timeout))
    return results


def format_summary(results: list[RunResult]) -> str:
    """A plain-text table: notebook, seconds, peak kernel memory, status."""
    rows = [(r.id, f"{r.seconds:.1f}", f"{r.peak_mb:.0f}", "ok" if r.ok else f"FAILED {r.error}") for r in results]
    lines = format_table(("notebook", "seconds", "peak MB", "status"), rows, right=(1, 2), rule=False).splitlines()
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results)} notebook(s), {failed} failed; executed copies and HTML in "
                 f"{results[0].executed.parent.parent if results else '-'}")
    return "\n".join(lines)
