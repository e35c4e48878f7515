"""opsbook — helpers for the internet operations (互联网运营) analytics course.

Kept light at import: submodules (``opsbook.data``, ``opsbook.world``,
``opsbook.grading``) load pandas, Faker or nbgrader only when used.
"""

__version__ = "0.1.0"
__all__ = ["setup_notebook"]


def __getattr__(name: str) -> object:
    """Load ``setup_notebook`` on first use, so ``import opsbook`` stays light."""
    if name == "setup_notebook":
        from opsbook.plotting import setup_notebook

        return setup_notebook
    raise AttributeError(f"module 'opsbook' has no attribute {name!r}")
