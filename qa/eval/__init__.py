"""Eval: ``evaluate`` (``qa eval`` on question sets about a corpus), ``squad`` (SQuAD-format
sets as corpora, SQuAD 2.0 / CAIL2019 flags, their split by article, the CMRC metrics),
``squad_eval`` (``qa eval --squad [--per-doc]``), ``genres`` (``qa eval --genres``),
``metrics`` (what both ask of an answer, their tables) and ``baselines`` (the LangChain
recipe). Only the CLI's eval command and ``train`` import this package."""
