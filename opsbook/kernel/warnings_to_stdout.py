"""IPython extension loaded into every grading kernel: Python warnings go to stdout.

nbgrader gives zero points to a test cell that writes anything to stderr, so a
pandas ``FutureWarning`` raised inside a correct answer would zero it (DESIGN
rule 9). On stdout the warning stays visible in the feedback and costs nothing.
``autograder/nbgrader_config.py`` loads it with
``--IPKernelApp.extensions=opsbook.kernel.warnings_to_stdout``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, TextIO


def _show_on_stdout(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: TextIO | None = None, line: str | None = None) -> None:
    sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))


def load_ipython_extension(ipython: Any) -> None:
    """Route ``warnings.showwarning`` to stdout for the rest of the kernel's life."""
    warnings.showwarning = _show_on_stdout
