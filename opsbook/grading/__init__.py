"""The nbgrader layer and self-grading.

    nbcourse.py    temporary nbgrader courses made from solutions/, autograde and feedback through nbgrader
    selfgrade.py   `opsbook grade`: a learner grades their own notebook
    feedback.py    feedback preprocessors (what a learner sees of a test cell)

Class grading (many students, sandboxes, integrity) is the instructor's room,
``opsbook.classroom``; code that runs inside a learner's kernel is ``opsbook.kernel``.
Light at import; nbgrader is imported by the functions that use it.
"""
