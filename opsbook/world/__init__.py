"""The synthetic product world: schema, behavioural model, writer and validator."""
