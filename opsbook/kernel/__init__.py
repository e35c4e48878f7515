"""Code that runs inside a learner's kernel while it is graded. The trust boundary of the course.

Everything here runs next to submitted code, so nothing here is trusted by the
grader: a kernel only hands back plain data, and the verdict is computed outside
it (``opsbook.grading.judge``). Modules import only the standard library at
import time, so they are short to audit and cheap to load.
"""
