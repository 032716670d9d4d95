"""Text utilities shared by the message classifier and the dialect detector: Arabic-aware normalisation,
sparse features, a small linear (softmax) model trained in pure Python, and its evaluation."""
