"""Readers that turn the raw public data under ``shared/data`` into outcome tables.

Developer tools: ``python -m difficulty.sources.build`` runs them and writes the bundled files
under ``difficulty/data``; the product only ever reads the bundled output.
"""
