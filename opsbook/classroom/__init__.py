"""The instructor's room: grade a whole class fairly and safely, and run it on a hub.

    cli.py        `opsbook class worlds|grade|feedback|export|report|hub` (light at import)
    worlds.py     one world per student, seeded by the student id and the term's salt
    course.py     the nbgrader course folder a class is graded in (config, gradebook, submissions)
    grade.py      grade every submission of an assignment into nbgrader's gradebook
    pool.py       where submissions are graded: LocalPool (worker processes) or DaskPool (a Dask cluster)
    worker.py     one submission: copy, check and execute it in the sandbox, judged outside its kernel
    status.py     a submission's status and the tamper policies
    integrity.py  what a person should look at: edited or deleted graded cells, code aimed at the grader
    feedback.py   per-student HTML feedback without the hidden tests
    export.py     grades to CSV
    report.py     item analysis: per exercise mean, full marks, item-total correlation, first failures
    hub.py        a classroom on one machine: JupyterHub, accounts, nbgrader's exchange; stop undoes it all
"""
