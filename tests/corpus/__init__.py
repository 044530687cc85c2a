"""The hostile corpus: cheating and honest-but-unusual submissions generated from source/."""
