"""The embedded store: ``index.Index`` (FAISS + bm25s files of one generation),
``generations`` (atomic publish, lock, load checks) and ``builder`` (incremental builds)."""
