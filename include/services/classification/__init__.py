"""Message classification: the intent of an inbound email/WhatsApp/SMS reply (English or Arabic) and its
tags. A local softmax model (``model.json``) trained on the shipped labelled set ``data/messages.jsonl``;
tags are rules (``tags.py``). ``python -m include.services.classification evaluate`` reports accuracy and
per-class precision/recall on the held-out split; ``train`` rebuilds the model from the training split."""
