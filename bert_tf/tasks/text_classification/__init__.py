"""Sentence (pair) classification and regression: the GLUE tasks."""
