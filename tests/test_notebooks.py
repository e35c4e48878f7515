"""Every notebook, both editions, on every kind of world the generator accepts (DESIGN rules 6, 8, 11, 12).

Each execution does as much as it can, so the suite stays fast:

* default world: the contract check (``check_contracts``) runs the notebook with the reference answers,
  every test cell judged as in autograde, then every stub, alternative and mistake — reference full, stub
  zero, alternatives full, mistakes lose points, and no worked cell raises;
* smallest world: the stuck-learner sweep grades the reference there first (every answer earns its points,
  no cell raises), then leaves each exercise unfinished in turn (every later worked cell runs or names it);
* longest world: papermill runs the solution notebook (hidden tests in the kernel, as `make course` does);
* the Chinese edition: graded on its own world (the default simulation with Chinese text), and nbgrader's
  own autograde of its untouched release on the smallest world.

nbgrader's real autograde of the English reference and release, and its validate loop, are in
test_contracts.py.
"""

from __future__ import annotations

import nbformat
import pytest
from course_cases import COURSE_IDS

from opsbook.course.contracts import check_contracts
from opsbook.course.execute import run_notebook
from opsbook.course.sweep import release_for, sweep
from opsbook.grading.nbcourse import course_config
from opsbook.paths import SOLUTIONS, ZH_SOURCES

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("headless_plots")]


@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_contracts_hold_on_the_default_world(nb_id, grading_cache, tmp_path):
    source, release, template = release_for(SOLUTIONS / nb_id, grading_cache)
    run = check_contracts(SOLUTIONS / nb_id, release, course_config(tmp_path))
    assert not run.errors, f"worked cells of {nb_id} raise on the default world: {run.errors}"
    broken = [f"{t.answer} {t.kind} {t.number}: {t.score:g}/{t.max_score:g} {t.why} {' | '.join(t.messages)}"
              for t in run.trials if not t.holds]
    assert not broken, "broken contracts:\n" + "\n".join(broken)


@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_the_smallest_world_grades_the_reference_and_every_exercise_can_be_skipped(nb_id, grading_cache, tmp_path,
                                                                                  small_world):
    source, release, template = release_for(SOLUTIONS / nb_id, grading_cache)
    problems = sweep(source, release, course_config(tmp_path), small_world)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_the_longest_world_runs_the_solution_notebook(nb_id, tmp_path, long_world):
    result = run_notebook(SOLUTIONS / nb_id / f"{nb_id}.ipynb", tmp_path, data_dir=long_world)
    assert result.ok, f"{nb_id} failed on the longest world ({result.error}); see {result.html}"


@pytest.mark.parametrize("nb_id", COURSE_IDS)
def test_the_chinese_edition_grades_on_its_world_and_its_release_scores_zero(nb_id, grading_cache, tmp_path,
                                                                            small_world):
    from opsbook.course.release import translated_sources
    from opsbook.data import edition_world
    from opsbook.grading.nbcourse import Course, prepare_course

    translated_sources(SOLUTIONS, ZH_SOURCES, [nb_id])
    folder = ZH_SOURCES / nb_id
    assert (folder / f"{nb_id}.ipynb").is_file(), f"no Chinese edition of {nb_id}"
    source, release, template = release_for(folder, grading_cache)
    assert source.metadata["opsbook"]["language"] == "zh"
    world = edition_world("zh")
    assert not list(world.parent.glob("*answer*")), "making the Chinese world left an answer key in datasets/"
    run = check_contracts(folder, release, course_config(tmp_path), data_dir=world, variants=False)
    assert not run.errors, f"the Chinese {nb_id} raises: {run.errors}"
    lost = [f"{t.answer}: {' | '.join(t.messages)}" for t in run.trials if not t.holds]
    assert not lost, "the Chinese reference loses points:\n" + "\n".join(lost)

    course = Course(prepare_course(folder, grading_cache), tmp_path / "course")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPSBOOK_DATA_DIR", str(small_world))
        graded = course.autograde("learner", course.release)
    assert graded.cells and graded.score == 0, f"the untouched Chinese release of {nb_id} earns points"
    assert nbformat.read(graded.notebook, as_version=4).metadata["opsbook"]["language"] == "zh"
