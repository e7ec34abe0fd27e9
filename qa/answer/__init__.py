"""Answer: from ranked passages to the answer sentence, its short phrase, or a refusal.

``asks`` (what kind of thing a question asks for), ``candidates`` (the sentences of the top
passages and their features), ``confidence`` (the features of "does the corpus answer
this"), ``rankers`` (the fitted weights, read from ``data/rankers*.json`` or a corpus's own),
``answerer`` (``Answerer``, and the ``Answer`` and ``Passage`` it returns).
"""
