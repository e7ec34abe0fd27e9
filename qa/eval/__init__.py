"""Eval: ``evaluate`` (``qa eval`` on question sets about a corpus), ``squad`` (SQuAD-format
sets as corpora, their split by article, the CMRC metrics), ``squad_eval``
(``qa eval --squad``) and ``baselines`` (BM25 alone, dense alone, the LangChain recipe).
Only the CLI's eval command and ``train`` import this package."""
