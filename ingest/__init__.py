"""Ingestion: loaders per format → structure-aware chunker → embed → upsert into Chroma, with a manifest of hashes."""
