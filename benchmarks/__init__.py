"""`make bench`: speed of data, models and grading against the course's limits."""
