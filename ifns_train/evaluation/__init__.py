"""Evaluation: pure metric functions (numpy arrays in, JSON-serialisable dicts out).

Kept free of Lightning and file I/O so the same functions score models, baselines and
regime slices identically, and their output can be written to the registry as-is.
Undefined values are ``None``, never NaN, so the JSON stays strict.
"""
