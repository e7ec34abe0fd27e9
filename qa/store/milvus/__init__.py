"""The Milvus store (``QA_STORE=milvus://...`` or ``milvus-lite:PATH``): ``store.MilvusStore``,
``build`` (incremental builds of the set not served) and ``backend.MilvusBackend`` (blue-green
collection sets behind aliases)."""
