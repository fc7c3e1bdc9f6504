"""Vectors in, ranked and explained matches out."""
