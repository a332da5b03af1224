"""Retrieval: Sudachi tokenizer, BM25 lexical index, dense search, fusion."""
