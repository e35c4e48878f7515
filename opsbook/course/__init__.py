"""The maintainer's room: the course manifest, the release, grading contracts and papermill runs.

    manifest.py    course.yml: the notebooks in order; the README course map
    release.py     tidy solutions/, regenerate notebooks/ with nbgrader, hygiene checks
    contracts.py   alternatives and mistakes of every exercise (contracts.yml)
    execute.py     run every solution notebook with papermill (`make course`)
    cli.py         `opsbook course readme|release|run`
"""
