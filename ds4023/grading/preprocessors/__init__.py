"""The nbgrader preprocessors the grader adds or replaces, one per module."""
