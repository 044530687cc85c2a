"""Stage 5, feedback: HTML pages for students (hidden tests removed, their HTML sanitised)."""
