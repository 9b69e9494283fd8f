"""Building a model: scikit-learn, pandas and matplotlib (``requirements-train.txt``); never imported to serve.

``data`` reading a labelled CSV · ``pipeline`` the scikit-learn pipeline · ``evaluate`` nested
cross-validation, metrics, the rule's weights and the thresholds · ``train`` evaluate then fit ·
``compile`` the pipeline as plain arrays · ``save`` writing the model files and card · ``report`` plots.
"""
