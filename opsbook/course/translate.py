"""The Chinese edition, made from the English source: translations as data that cannot drift.

``translations/zh/<id>.yml`` holds, for every cell of ``solutions/<id>/<id>.ipynb``
(by cell id), the English text it translates and the Chinese:

    - id: cell-004                    # a markdown cell
      en: |                           # the English it translates, exactly
        ## 1. The event log ...
      zh: |
        ## 1. 事件日志（埋点日志）...
    - id: ex1_1_dau_check             # a code cell: only its prose (string literals and comments) changes
      strings:                        # every literal with a space, a \\n or a non-ASCII letter, as written
        - en: '"dau(tiny log)"'
          zh: '"dau（小日志）"'
      comments:
        - en: "# Visible check on a tiny log"
          zh: "# 在一个小日志上的可见检查"

``build_zh`` applies it: markdown is replaced, and in code only those string
tokens and comments change (``setup_notebook(lang="en")`` becomes ``"zh"``), so
the code, the hidden tests, grade ids and points are the English ones.
``problems`` lists every English text that has no translation or changed since it
was translated; the release refuses to build while there is one, so the two
editions cannot drift apart.
"""

from __future__ import annotations

import copy
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from opsbook.paths import ROOT

TRANSLATIONS = ROOT / "translations"
LANGUAGE = "zh"


class TranslationError(ValueError):
    """A translation is missing or stale; the message lists every problem."""


@dataclass
class CellText:
    """The translation of one cell."""

    en: str | None = None                                   # markdown: the English it translates
    zh: str | None = None                                   # markdown: the Chinese
    strings: dict[str, str] = field(default_factory=dict)   # code: English literal -> Chinese literal
    comments: dict[str, str] = field(default_factory=dict)  # code: English comment -> Chinese comment
    previous: dict[str, str] | None = None                  # markdown: {en, zh} of the last translation, kept
                                                            # when the English changed, for the translator


def translation_path(nb_id: str, language: str = LANGUAGE, root: Path = TRANSLATIONS) -> Path:
    return Path(root) / language / f"{nb_id}.yml"


def load_translation(nb_id: str, language: str = LANGUAGE, root: Path = TRANSLATIONS) -> dict[str, CellText]:
    """The translation of one notebook, by cell id (empty when there is none yet)."""
    import yaml

    path = translation_path(nb_id, language, root)
    if not path.is_file():
        return {}
    cells = {}
    for entry in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
        cells[str(entry["id"])] = CellText(
            entry.get("en"), entry.get("zh"),
            {s["en"]: s["zh"] for s in entry.get("strings") or [] if s.get("zh") is not None},
            {c["en"]: c["zh"] for c in entry.get("comments") or [] if c.get("zh") is not None},
            entry.get("previous"))
    return cells


def prose_tokens(source: str) -> tuple[list[str], list[str]]:
    """(string literals, comments) of a code cell that carry prose: a literal with a space or a non-ASCII
    letter or a chart's one-word label, as written (quotes and prefix included), and every comment but
    nbgrader's markers."""
    found = _prose(source)
    return ([t.string for t in found if t.type == tokenize.STRING],
            [t.string for t in found if t.type == tokenize.COMMENT])


def _prose(source: str) -> list[tokenize.TokenInfo]:
    """The tokens of a cell that travel to another language; the same literal elsewhere in the cell (a
    column named like a label) stays."""
    from opsbook.grading.markers import course_markers

    marks = course_markers()
    found = []
    before: list[str] = []  # the two code tokens before this one
    markers = (marks.begin_solution, marks.end_solution, marks.begin_hidden, marks.end_hidden)
    for token in _tokens(source):
        string = token.type == tokenize.STRING and (_is_prose(token.string) or _is_label(token.string, before))
        comment = token.type == tokenize.COMMENT and not any(m in token.string for m in markers)
        if string or comment:
            found.append(token)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
            before = [*before[-1:], token.string]
    return found


# A one-word literal is prose when a chart shows it: `label="adopters"`, `ax.set_ylabel("group")`.
_LABEL_KEYWORDS = {"label", "xlabel", "ylabel", "title"}
_LABEL_CALLS = {"set_xlabel", "set_ylabel", "set_title", "suptitle", "xlabel", "ylabel", "title", "legend", "text"}


def _is_label(literal: str, before: list[str]) -> bool:
    """A one-word chart text: the value of a label keyword or the first argument of a text call."""
    words = re.sub(r"\{[^{}]*\}", "", literal)
    if not any(a.isalpha() and b.isalpha() for a, b in zip(words, words[1:])) or len(before) < 2:
        return False
    name, sign = before
    return (sign == "=" and name in _LABEL_KEYWORDS) or (sign == "(" and name in _LABEL_CALLS)


def _is_prose(literal: str) -> bool:
    """Prose has a space, a line break (a two-line chart label) or a non-ASCII letter; an identifier has none."""
    text = re.sub(r"\{[^{}]*\}", "", literal)  # not the names in an f-string's braces
    words = "\\n" in text and any(a.isalpha() and b.isalpha() for a, b in zip(text, text[1:]))
    return " " in literal or words or any(ord(ch) > 127 for ch in literal)


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    """Python tokens of a cell; IPython magic lines (``%%needs 1.1``) are kept as they are."""
    lines = [line if not line.lstrip().startswith(("%", "!")) else "\n" * line.endswith("\n")
             for line in source.splitlines(keepends=True)]
    return list(tokenize.generate_tokens(io.StringIO("".join(lines)).readline))


def cell_key(cell: NotebookNode) -> str:
    """A cell's name in a translation file: its grade id when it has one, else its cell id."""
    return cell.metadata.get("nbgrader", {}).get("grade_id") or cell.get("id", "")


def problems(source: NotebookNode, translation: dict[str, CellText]) -> list[str]:
    """Every English text of ``source`` without an up-to-date translation (empty: the edition is complete)."""
    found = []
    for index, cell in enumerate(source.cells, start=1):
        key = cell_key(cell)
        text = translation.get(key)
        where = f"cell {index} ({key})"
        if cell.cell_type == "markdown":
            if text is not None and text.zh is None and text.previous:
                found.append(f"{where}: the English changed; update the old translation kept under `previous`")
            elif text is None or text.zh is None:
                found.append(f"{where}: not translated")
            elif text.en != cell.source:
                found.append(f"{where}: the English changed since it was translated")
        elif cell.cell_type == "code":
            strings, comments = prose_tokens(cell.source)
            text = text or CellText()
            missing = [s for s in strings if s not in text.strings] + [c for c in comments if c not in text.comments]
            stale = [s for s in text.strings if s not in strings] + [c for c in text.comments if c not in comments]
            if missing:
                found.append(f"{where}: {len(missing)} text(s) not translated, first {missing[0][:60]!r}")
            if stale:
                found.append(f"{where}: {len(stale)} translated text(s) no longer in the code, first {stale[0][:60]!r}")
    known = {cell_key(c) for c in source.cells}
    found += [f"{key}: no such cell in the English notebook any more" for key in translation if key not in known]
    return found


def build_zh(source: NotebookNode, translation: dict[str, CellText]) -> NotebookNode:
    """The Chinese notebook; raises ``TranslationError`` unless every English text is translated and current."""
    wrong = problems(source, translation)
    if wrong:
        raise TranslationError(f"{len(wrong)} problem(s):\n" + "\n".join(wrong))
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        text = translation.get(cell_key(cell))
        if cell.cell_type == "markdown":
            cell.source = text.zh.rstrip("\n")
        elif cell.cell_type == "code":
            cell.source = _translate_code(cell.source, text or CellText())
    nb.metadata.setdefault("opsbook", {})["language"] = LANGUAGE
    return nb


def _translate_code(source: str, text: CellText) -> str:
    """``source`` with its prose literals and comments replaced, and ``lang="en"`` set to Chinese."""
    lines = source.splitlines(keepends=True)
    edits = []
    tokens = _tokens(source)
    prose = {token.start for token in _prose(source)}
    for i, token in enumerate(tokens):
        new = None
        if token.type == tokenize.STRING and token.start in prose and token.string in text.strings:
            new = text.strings[token.string]
        elif token.type == tokenize.COMMENT and token.start in prose and token.string in text.comments:
            new = text.comments[token.string]
        elif token.type == tokenize.STRING and token.string in ('"en"', "'en'") and i >= 2 \
                and tokens[i - 1].string == "=" and tokens[i - 2].string == "lang":
            new = f'"{LANGUAGE}"'
        if new is not None:
            edits.append((token.start, token.end, new))
    for (row, col), (end_row, end_col), new in reversed(edits):
        head = lines[row - 1][:col]
        tail = lines[end_row - 1][end_col:]
        lines[row - 1:end_row] = [head + new + tail]
    return "".join(lines)


def code_shape(source: str) -> list[tuple[int, str]]:
    """The tokens of a cell with every string literal and comment blanked: what must not differ by language."""
    return [(t.type, "" if t.type in (tokenize.STRING, tokenize.COMMENT) else t.string) for t in _tokens(source)
            if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.ENDMARKER)]


def skeleton(source: NotebookNode, translation: dict[str, CellText] | None = None) -> list[dict]:
    """A translation file's entries for ``source``: existing translations kept, new or changed text
    listed with ``zh: null`` for a translator to fill in (a changed cell keeps its old translation under
    ``previous``, so only the change needs translating)."""
    translation = translation or {}
    entries = []
    for cell in source.cells:
        key = cell_key(cell)
        old = translation.get(key, CellText())
        if cell.cell_type == "markdown":
            entry = {"id": key, "en": cell.source, "zh": old.zh if old.en == cell.source else None}
            if entry["zh"] is None and (old.zh or old.previous):
                entry["previous"] = {"en": old.en, "zh": old.zh} if old.zh else old.previous
            entries.append(entry)
        elif cell.cell_type == "code":
            strings, comments = prose_tokens(cell.source)
            if not strings and not comments:
                continue
            entry: dict = {"id": key}
            if strings:
                entry["strings"] = [{"en": s, "zh": old.strings.get(s)} for s in dict.fromkeys(strings)]
            if comments:
                entry["comments"] = [{"en": c, "zh": old.comments.get(c)} for c in dict.fromkeys(comments)]
            entries.append(entry)
    return entries


def write_skeleton(nb_id: str, source: NotebookNode, language: str = LANGUAGE, root: Path = TRANSLATIONS) -> Path:
    """(Re)write ``translations/<language>/<nb_id>.yml`` from ``source``, keeping what is still current."""
    import yaml

    path = translation_path(nb_id, language, root)
    entries = skeleton(source, load_translation(nb_id, language, root))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump(entries, Dumper=_block_dumper(), allow_unicode=True, sort_keys=False, width=1000),
                    encoding="utf-8")
    return path


def _block_dumper() -> type:
    import yaml

    class BlockDumper(yaml.SafeDumper):
        """Multi-line text as YAML literal blocks (|), so a translator reads it as written."""

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    BlockDumper.add_representer(str, text)
    return BlockDumper



# --------------------------------------------------------------------------- the data dictionary
DICTIONARY = "dictionary"


def dictionary_translation(language: str = LANGUAGE, root: Path = TRANSLATIONS) -> dict[str, str]:
    """English sentence -> translation, for the data dictionary (``translations/<language>/dictionary.yml``)."""
    import yaml

    path = translation_path(DICTIONARY, language, root)
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []
    return {e["en"]: e["zh"] for e in entries or [] if e.get("zh") is not None}


def dictionary_problems(language: str = LANGUAGE) -> list[str]:
    """English sentences of the data dictionary without a translation, and translations of sentences gone."""
    from opsbook.world.dictionary import dictionary_texts

    texts, done = dictionary_texts(), dictionary_translation(language)
    return ([f"not translated: {t[:70]!r}" for t in texts if t not in done]
            + [f"no longer in the dictionary: {t[:70]!r}" for t in done if t not in texts])


def render_dictionary_zh(language: str = LANGUAGE) -> str:
    """The data dictionary of the default world in ``language`` (its world has the same tables and rows)."""
    import json

    from opsbook.paths import DATASETS
    from opsbook.world.dictionary import render_dictionary

    wrong = dictionary_problems(language)
    if wrong:
        raise TranslationError(f"{len(wrong)} problem(s) in the dictionary's translation:\n" + "\n".join(wrong))
    done = dictionary_translation(language)
    meta = json.loads((DATASETS / "world.json").read_text(encoding="utf-8"))
    rows = _row_counts(DATASETS)
    return render_dictionary({**meta, "locale": "zh_CN"}, rows, lambda text: done[text])


def _row_counts(folder: Path) -> dict[str, int]:
    """Rows of every table, read from the folder's own data dictionary (no need to load the tables)."""
    import re

    counts, table = {}, None
    for line in (folder / "README.md").read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^## `(\w+)`$", line):
            table = match.group(1)
        elif table and (match := re.match(r"^- rows: ([\d,]+)$", line)):
            counts[table] = int(match.group(1).replace(",", ""))
    return counts


def write_dictionary_skeleton(language: str = LANGUAGE) -> Path:
    """(Re)write ``translations/<language>/dictionary.yml``: every sentence, translations kept where current."""
    import yaml

    from opsbook.world.dictionary import dictionary_texts

    done = dictionary_translation(language)
    path = translation_path(DICTIONARY, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"en": t, "zh": done.get(t)} for t in dictionary_texts()]
    path.write_text(yaml.dump(entries, Dumper=_block_dumper(), allow_unicode=True, sort_keys=False, width=1000),
                    encoding="utf-8")
    return path
