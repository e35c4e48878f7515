"""The instructor's room: grade a whole class fairly and safely.

    cli.py        `opsbook class worlds|grade|feedback|export` (light at import)
    worlds.py     one world per student, seeded by the student id
    grade.py      grade every submission of an assignment into nbgrader's gradebook
    worker.py     one worker process: copy, check and execute a submission, judged outside its kernel
    sandbox.py    the bubblewrap sandbox and resource limits of a submission's kernel
    integrity.py  what a person should look at: edited or deleted graded cells, code aimed at the grader
    export.py     feedback without hidden tests, grades to CSV
"""
