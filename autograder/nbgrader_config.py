"""nbgrader configuration of the course. The repository root is the course directory.

    solutions/<assignment>/<assignment>.ipynb   source: solutions and hidden tests (in git)
    notebooks/<assignment>/<assignment>.ipynb   release: what learners open (in git, generated)
    submitted/ autograded/ feedback/ gradebook.db nbgrader.log   class state (outside git)

nbgrader finds this file through ``nbgrader_config.py`` at the repository root,
so run ``nbgrader`` commands from there. opsbook's own graders (``opsbook grade``,
the contract tests) load the same file and only swap the folders for a
temporary course, so learners, instructors and CI grade with one set of rules.
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
                                    AssignLatePenalties,
                                    CheckCellMetadata,
                                    GetGrades,
                                    IgnorePattern,
                                    LimitOutput,
                                    SaveAutoGrades,
)

from opsbook.grading.feedback import ReleasedTests
from opsbook.grading.judge import JudgedExecute

c = get_config()

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# --- the course folders ---------------------------------------------------
c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "opsbook"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Class state stays at the root under nbgrader's usual names (all gitignored),
# so `make clean`, which empties build/, can never delete a class's grades.
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "gradebook.db")
# Never copy the grading contracts (alternative answers!) into a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "contracts.yml"]

# --- executing submissions ------------------------------------------------
# Seconds a single cell may run before the kernel is interrupted; the cell then
# fails with a timeout and grading goes on with the next cell.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# nbgrader zeroes a test cell that writes to stderr. This IPython extension
# shows Python warnings on stdout instead, so a pandas FutureWarning raised
# inside a correct answer costs nothing (it also applies to the Validate button).
# The kernel's own log stays quiet below errors (no transport warnings in a learner's terminal).
c.Execute.extra_arguments = ["--IPKernelApp.extensions=opsbook.kernel.warnings_to_stdout",
                             "--IPKernelApp.log_level=ERROR",
                             "--IPKernelApp.ignore_cwd=True"]
# Test cells are judged by the grader, outside the learner's kernel (opsbook/grading/judge.py): the kernel
# runs the learner's code and hands back plain data; checks and expected values never enter it.
# The rest of nbgrader's autograde pipeline is unchanged.
c.Autograde.autograde_preprocessors = [JudgedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

# --- feedback -------------------------------------------------------------
# Feedback shows the learner's own cells and, for each test cell, the text the learner received and the
# grader's verdict (what the test printed, one line with its first failure): hidden tests never ran in the
# learner's kernel, so no output can quote them (nbgrader issue #917).
c.GenerateFeedback.preprocessors = [ReleasedTests, GetGrades, CSSHTMLHeaderPreprocessor]

# --- logging --------------------------------------------------------------
c.NbGrader.logfile = os.path.join(ROOT, "nbgrader.log")
