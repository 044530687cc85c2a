"""Stage 4, grading: one submission at a time in a sandboxed kernel, judged outside it."""
