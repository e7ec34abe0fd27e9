"""Search: from a question to ranked passages.

``retrieve`` (``make_query``, ``search``: reciprocal-rank fusion of the store's dense and
lexical top-k lists into ``Hit``s), ``glossary`` (synonyms and English names, general and per
corpus), ``bilingual`` (English question words to Chinese by CC-CEDICT), ``followup`` (a
follow-up question read with the ones before it).
"""
