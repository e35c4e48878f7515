# nbgrader looks for its configuration in the directory it runs from: the
# course's settings live in autograder/nbgrader_config.py.
c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821
