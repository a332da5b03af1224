"""Stores shared by serving and ingestion: Chroma (chunks, manifest, corpus version) and the query log."""
