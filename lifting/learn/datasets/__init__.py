"""Readers for motion-capture files (BVH), used for training data and to check exported animation."""
