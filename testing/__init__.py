"""Fixtures shared by the tests (tests/) and the benchmarks (bench/): the real services they start.

A package at the checkout's root, so that both import it by its name (pytest's ``pythonpath`` puts
the root on the path; a bench script run as ``python bench/x.py`` puts it there to import hatespeech
too). Not shipped: pyproject.toml lists the wheel's packages by name.
"""
