"""ifns-train: Stage 03 Modeling & Training of the Intelligent Financial Neural System."""

__version__ = "0.1.0"
