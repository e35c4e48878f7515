"""One display and plot style: ``setup_notebook()``; ``import opsbook`` stays light."""

from __future__ import annotations

import subprocess
import sys
import warnings

import matplotlib as mpl
import pandas as pd
import pytest
from matplotlib import font_manager

from opsbook.plotting import FIGSIZE, label, setup_notebook


@pytest.fixture
def restored():
    """Undo setup_notebook's global settings after the test."""
    with mpl.rc_context(), warnings.catch_warnings():
        yield
    for option in ("display.max_columns", "display.max_rows", "display.width", "display.precision"):
        pd.reset_option(option)


def test_import_opsbook_is_light():
    code = ("import sys, opsbook; "
            "print(sorted(m for m in ('pandas', 'matplotlib', 'seaborn', 'nbgrader') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_setup_notebook_is_exported_lazily():
    import opsbook

    assert opsbook.setup_notebook is setup_notebook
    with pytest.raises(AttributeError):
        opsbook.no_such_helper  # noqa: B018


def test_setup_sets_display_and_plot_style(restored):
    setup_notebook()
    assert tuple(mpl.rcParams["figure.figsize"]) == FIGSIZE
    assert mpl.rcParams["axes.unicode_minus"] is False
    assert pd.get_option("display.max_columns") == 30 and pd.get_option("display.precision") == 3
    assert ("once", None, FutureWarning, None, 0) in warnings.filters


def test_setup_prefers_an_installed_cjk_font(restored, monkeypatch):
    fake = font_manager.FontEntry(fname="NotoSansCJK-Regular.ttc", name="Noto Sans CJK SC")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [*font_manager.fontManager.ttflist, fake])
    assert setup_notebook() == "Noto Sans CJK SC"
    assert mpl.rcParams["font.sans-serif"][:2] == ["Noto Sans CJK SC", "DejaVu Sans"]


def test_label_sets_title_and_axis_labels():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert label(ax, "DAU 日活", "day", "users") is ax
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("DAU 日活", "day", "users")
    plt.close(fig)


def test_a_chart_with_a_chinese_title_draws_every_glyph(restored, caplog):
    """`make test` installs a CJK font (`make fonts`); Chinese titles and labels must not turn into boxes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = setup_notebook(lang="zh")
    assert font, "no CJK font: run `make fonts` (Debian's fonts-noto-cjk)"
    fig, ax = plt.subplots()
    label(ax, "日活（DAU）与月活：留存下降了吗？", "日期", "活跃用户（人）")
    ax.plot([1, 2, 3], [3, 1, 2], label="次日留存")
    ax.legend()
    ax.annotate("最高", (1, 3), fontweight="bold")
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("WARNING", logger="matplotlib.font_manager"):
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing[:3]
    assert not [r.message for r in caplog.records if "findfont" in r.message], "a weight of the CJK font is missing"
