"""Feedback built from what the grader decided to show, never filtered afterwards.

A test cell's feedback is the cell as the learner received it (its visible
part, cut from the gradebook's copy by nbgrader's own ``ClearHiddenTests``, not
from the submission) and the outputs the judge wrote for it: what the test
printed and one line with its first failure. The hidden tests never ran in the
learner's kernel (``opsbook.grading.judge``), so nothing the learner's code
printed can contain them, and nothing in a learner's own cells is parsed for
markers, so no text a learner writes can stop a feedback run.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import NbGraderPreprocessor


class ReleasedTests(NbGraderPreprocessor):
    """Show every test cell as released, with the judge's verdict as its only outputs."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from nbgrader.api import Gradebook

        from opsbook.grading.markers import visible_part

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            cells = gb.find_notebook(info["notebook"], info["assignment"]).source_cells
            self.released = {c.name: visible_part(c.source, self.config) for c in cells}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int
                        ) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and nbutils.is_grade(cell) and not nbutils.is_solution(cell):
            cell.source = self.released.get(cell.metadata.nbgrader.get("grade_id"), "")
            cell.outputs = [o for o in cell.outputs if o.output_type in ("stream", "error")]
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
