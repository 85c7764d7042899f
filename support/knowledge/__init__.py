"""The knowledge base: search and suggestions, article rendering, and deflection records."""
