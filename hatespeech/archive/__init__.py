"""Scoring whole archives of posts (CSV or JSON Lines), streamed.

- ``blocks``   the one cutter: the archive in blocks of whole rows (RFC 4180 quotes), a BOM skipped,
               CR-only rows and unterminated quotes refused
- ``score``    ``score_archive``: on every core of this machine
- ``cluster``  ``score_on_cluster``: the same chunks on a Dask cluster (``score_archive.py --scheduler``)
"""
