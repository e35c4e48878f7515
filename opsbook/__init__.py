"""opsbook — helpers for the internet operations (互联网运营) analytics course.

What a notebook uses: ``setup_notebook()`` (display, plots, language, the
``%%needs`` magic), ``check`` (the exercises' checks), ``reveal("1.3")`` (the
reference answer of one exercise, for self-study), ``opsbook.data.load_world``.
Kept light at import: submodules load pandas, Faker or nbgrader only when used.
"""

__version__ = "0.2.0"
__all__ = ["reveal", "setup_notebook"]


def __getattr__(name: str) -> object:
    """Load ``setup_notebook`` and ``reveal`` on first use, so ``import opsbook`` stays light."""
    if name == "setup_notebook":
        from opsbook.plotting import setup_notebook

        return setup_notebook
    if name == "reveal":
        from opsbook.companion import reveal

        return reveal
    raise AttributeError(f"module 'opsbook' has no attribute {name!r}")
