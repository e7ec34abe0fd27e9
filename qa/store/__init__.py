"""Store: where the index lives, behind one seam.

``base`` is the seam: ``Store`` (dense and lexical top-k, records, vectors), the errors every
store raises (``IndexProblem`` and kin, ``StoreUnavailable``) and what every store indexes
(``index_text``); ``factory.open_backend`` picks the backend by ``QA_STORE``. ``embedded``:
FAISS + bm25s files in generations on disk (``index``, ``generations``, ``builder``).
``milvus``: the same records in Milvus collections (``store``, ``build``, ``backend``).
"""
