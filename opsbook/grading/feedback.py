"""Feedback that does not give the hidden tests away."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor


class ShortTracebacks(NbGraderPreprocessor):
    """Cut the traceback of every failing test cell to its last line.

    An IPython traceback quotes the source lines around the failure, which in a
    test cell are the hidden tests. ``AssertionError: <message>`` is all a
    learner needs; their own code's errors show in full in their notebook.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int
                        ) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
