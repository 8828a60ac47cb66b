"""Token classification: CoNLL-2003 named entity recognition."""
