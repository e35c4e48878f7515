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


def setup_notebook() -> str | None:
    """Set pandas display options, the plot theme and warning filters; return the CJK font used, if any."""
    import matplotlib as mpl
    import pandas as pd
    import seaborn as sns
    from matplotlib import font_manager

    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_rows", 30)
    pd.set_option("display.width", 120)
    pd.set_option("display.precision", 3)

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = next((name for name in CJK_FONTS if name in installed), None)
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


def label(ax: Axes, title: str, xlabel: str, ylabel: str) -> Axes:
    """Give a chart its title and axis labels (every chart in the course has all three)."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
