"""Grading around nbgrader: temporary courses, self-grading, contracts, the lab launcher.

Light at import; nbgrader is imported by the functions that use it.
"""
