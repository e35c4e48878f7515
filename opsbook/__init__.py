"""opsbook — helpers for the internet operations (互联网运营) analytics course.

Kept light at import: submodules (``opsbook.data``, ``opsbook.world``,
``opsbook.grading``) load pandas, Faker or nbgrader only when used.
"""

__version__ = "0.1.0"
