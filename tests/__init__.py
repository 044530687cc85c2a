"""The course package's tests; `make test` runs them all, `make test-fast` the quick tier."""
