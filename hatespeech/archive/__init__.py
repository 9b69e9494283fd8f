"""Scoring whole archives of posts (CSV or JSON Lines), streamed.

- ``blocks``    the one cutter: the archive in blocks of whole rows (RFC 4180 quotes), a BOM skipped,
                CR-only rows and unterminated quotes refused
- ``score``     ``score_archive``: on every core of this machine; the scoring of one block, and the
                run's summary, for both kinds of run
- ``cluster``   ``score_on_cluster``: the same blocks on a Dask cluster (``score_archive.py --scheduler``)
- ``worker``    what a Dask task runs: one byte range of the archive, scored
- ``shipping``  what the workers get: the code as a zip, the model as bytes (loaded once per worker)
"""
