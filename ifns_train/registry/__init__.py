"""The model registry, experiment log and their records: locked, atomic, schema-checked."""
