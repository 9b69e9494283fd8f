"""Scoring whole archives of posts (CSV or JSON Lines), streamed, on every core: ``score.score_archive``."""
