"""Evaluation with the official metric, sizes, the image-branch check, results files and the comparison report."""
