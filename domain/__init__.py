"""Kapu's domain: plain functions over the models, free of Flask request objects."""
