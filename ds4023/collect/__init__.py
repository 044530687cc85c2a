"""Submissions in: nbgrader's exchange (and, beside it, LMS downloads)."""
