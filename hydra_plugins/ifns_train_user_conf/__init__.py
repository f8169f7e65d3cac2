"""ifns-train's Hydra plugin: the user's `conf/` at the project root, searched first.

Hydra finds this through the `hydra_plugins` namespace package (no `__init__.py` at its top),
which ifns-train ships beside `ifns_train` so a wheel install carries it too.
"""
