"""Stage 6, report: the grades CSV, the Markdown report and its charts."""
