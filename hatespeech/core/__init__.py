"""The serving core: the standard library and NumPy only.

``labels`` the classes and the severity rule · ``text`` the stateless normalisation with spans ·
``reader`` the normaliser, with the model's vocabulary · ``model`` the compiled model, scored from
plain arrays · ``modelfile`` reading a model and its card, verified · ``policy`` the decision rule,
thresholds and actions · ``explain`` exact per-span contributions · ``validate`` checking input ·
``classifier`` a loaded model · ``moderator`` a model and its policy answering as ``/predict`` and
``/moderate`` do · ``files`` the atomic write.
"""
