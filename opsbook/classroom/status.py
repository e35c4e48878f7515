"""What happened to a submission: one name for each outcome, shared by grading, feedback and export."""

from __future__ import annotations

from enum import StrEnum

TAMPER_POLICIES = ("zero", "flag")
"""What a submission that tampered with grading gets: zero points (default), or only a flag."""


class Status(StrEnum):
    """A submission's outcome (stored by value in ``state.jsonl``)."""

    GRADED = "graded"        # ran and was scored (its flags say what went wrong inside, if anything)
    INVALID = "invalid"      # not a readable notebook, or nbgrader could not read its graded cells
    MISSING = "missing"      # the notebook is not in the submission folder
    CRASHED = "crashed"      # the worker process died while grading it
    TIMEOUT = "timeout"      # the whole submission ran past its time limit
    ERROR = "error"          # the grader itself failed (retried on the next run)
    NO_WORLD = "no-world"    # per-student worlds were asked for and this student has none

    @property
    def final(self) -> bool:
        """Whether a resumed run keeps this outcome instead of grading the submission again."""
        return self not in (Status.ERROR, Status.NO_WORLD)

    @property
    def reason(self) -> str:
        """Why a submission in this state has no normal feedback, in words for the student."""
        return _REASONS.get(self, "")


_REASONS = {
    Status.INVALID: "your notebook file could not be read (it is not a valid Jupyter notebook)",
    Status.MISSING: "the notebook was not found in your submission",
    Status.CRASHED: "the grader stopped while running your notebook",
    Status.TIMEOUT: "your notebook ran longer than the time limit",
    Status.ERROR: "the grader failed on your notebook; your instructor will look at it",
    Status.NO_WORLD: "no data world was found for you; your instructor will look at it",
}
