"""What the tests (tests/) and the benchmarks (bench/) both use: the real services they start
(services.py), the production server and HTTP helpers (support.py), the alert tests' receiver and
settings (alerting.py), the platforms' stand-ins (standins.py), stalled stores (stalls.py), a real
Dask cluster (dask_cluster.py) and the review page's browser (review.py).

A package at the checkout's root, so that both import it by its name (pytest's ``pythonpath`` puts
the root on the path; a bench script run as ``python bench/x.py`` puts it there to import hatespeech
too). Not shipped: pyproject.toml lists the wheel's packages by name.
"""
