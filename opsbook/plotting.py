"""One display and plot style for every notebook.

    from opsbook import setup_notebook
    setup_notebook()

matplotlib, seaborn and pandas are imported when ``setup_notebook`` runs, not
when this module is imported.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Fonts that can draw Chinese labels (用户, 留存 ...), most common first; the first installed one wins.
CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Arial Unicode MS",
)
PALETTE = "deep"
FIGSIZE = (8.0, 4.5)


class CourseSetupError(RuntimeError):
    """The kernel cannot run the course; the message says in one sentence what to install."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"CourseSetupError: {self}"]


REQUIRED = {"python": (3, 11), "pandas": (3, 0), "numpy": (2, 0)}


def check_environment(versions: dict[str, str] | None = None) -> None:
    """Raise ``CourseSetupError`` in one sentence when Python, pandas or numpy is too old for the course."""
    import platform

    if versions is None:
        import numpy
        import pandas

        versions = {"python": platform.python_version(), "pandas": pandas.__version__, "numpy": numpy.__version__}
    old = [f"{name} {versions[name]} (needs {'.'.join(map(str, need))} or newer)" for name, need in REQUIRED.items()
           if tuple(int(p) for p in versions[name].split(".")[:2] if p.isdigit()) < need]
    if old:
        raise CourseSetupError(
            f"This kernel has {' and '.join(old)}: install the course's environment (`make install` in the course "
            "folder, or `pip install \"pandas>=3\" \"numpy>=2\"` in a hosted notebook) and restart the kernel.")


def setup_notebook(lang: str = "en") -> str | None:
    """Check the environment, set display and plot defaults, the message language (``"en"`` or ``"zh"``)
    and the ``%%needs`` magic; return the CJK font used, if any."""
    check_environment()
    from opsbook import language

    language.set(lang)
    _register_magics()
    import matplotlib as mpl
    import pandas as pd
    import seaborn as sns

    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_rows", 30)
    pd.set_option("display.width", 120)
    pd.set_option("display.precision", 3)

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    cjk = cjk_font()
    mpl.rcParams.update({
        "figure.figsize": FIGSIZE,
        "figure.dpi": 100,
        "axes.titlesize": "large",
        "axes.titleweight": "bold",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.sans-serif": ([cjk] if cjk else []) + ["DejaVu Sans"],
        "axes.unicode_minus": False,  # CJK fonts often lack the Unicode minus sign
    })

    for category in (FutureWarning, UserWarning, RuntimeWarning):
        warnings.filterwarnings("once", category=category)
    return cjk


# Where Linux distributions put CJK fonts (Debian/Ubuntu `fonts-noto-cjk`, `fonts-wqy-*`): matplotlib's font
# cache is built once, so a font installed after that is added by file.
CJK_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
"""Font files of Debian's packages (fonts-noto-cjk, with its bold titles; fonts-wqy-*), registered when matplotlib's
font cache predates them."""


def cjk_font() -> str | None:
    """The first font of ``CJK_FONTS`` matplotlib can use, registering a known font file if needed; else None."""
    from pathlib import Path

    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed.intersection(CJK_FONTS):
        for path in CJK_FILES:
            if Path(path).is_file():
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _register_magics() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        from opsbook.companion import register_magics

        register_magics(shell)


def label(ax: Axes, title: str, xlabel: str, ylabel: str) -> Axes:
    """Give a chart its title and axis labels (every chart in the course has all three)."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
