"""Shared test setup.

Kernels that nbval starts inherit this process's environment: with
PYTHONWARNINGS=error every notebook runs with warnings as errors, as the
chapter standard asks (pytest itself turns warnings into errors through
pyproject.toml).
"""
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault("PYTHONWARNINGS", "error")
