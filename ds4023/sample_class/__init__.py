"""The made-up sample class of `make demo`, generated from source/ (never edited by hand)."""
