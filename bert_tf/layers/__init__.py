"""Keras layers and models of bert_tf."""
