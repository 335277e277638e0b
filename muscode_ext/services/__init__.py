"""The domain: projects and files (and later classes, assignments, tokens)."""
