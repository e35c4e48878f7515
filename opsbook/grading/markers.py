"""nbgrader's solution and hidden-test markers, as nbgrader itself is configured to read them.

The delimiters come from nbgrader's ``ClearSolutions`` and ``ClearHiddenTests``
settings in the course configuration (``BEGIN SOLUTION``, ``BEGIN HIDDEN TESTS``
… unless the course changes them), and the hidden region is cut by nbgrader's
own code, so opsbook never disagrees with nbgrader about what is hidden.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Markers:
    begin_solution: str
    end_solution: str
    begin_hidden: str
    end_hidden: str


@functools.lru_cache(maxsize=1)
def course_markers() -> Markers:
    """The delimiters of the course's nbgrader configuration."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    from opsbook.grading.nbcourse import course_settings

    config = course_settings()
    solutions, hidden = ClearSolutions(config=config), ClearHiddenTests(config=config)
    return Markers(solutions.begin_solution_delimeter, solutions.end_solution_delimeter,
                   hidden.begin_test_delimeter, hidden.end_test_delimeter)


def visible_part(source: str, config: Any = None) -> str:
    """A test cell's text without its hidden region, cut by nbgrader's ``ClearHiddenTests``."""
    from nbformat import v4
    from nbgrader.preprocessors import ClearHiddenTests

    from opsbook.grading.nbcourse import course_settings

    cell = v4.new_code_cell(source)
    ClearHiddenTests(config=config or course_settings())._remove_hidden_test_region(cell)
    return cell.source


def without_solution_markers(source: str) -> str:
    """An answer cell's reference code as a learner would type it: the solution marker lines dropped."""
    marks = course_markers()
    return "\n".join(line for line in source.splitlines()
                     if marks.begin_solution not in line and marks.end_solution not in line)
