"""Dialect detection: Arabic text -> Gulf, Egyptian, Levantine, Maghrebi, Iraqi or MSA (or ``not_arabic`` /
``too_short``), with a confidence. A local softmax model (``model.json``) over character n-grams, words and
dialect marker words (``markers.py``), trained on ``data/dialects.jsonl``, a labelled set written for this
project. ``python -m include.services.dialect evaluate`` reports accuracy on the held-out split; what it
cannot tell apart is in ``detector.LIMITS`` and the README."""
