"""Serve: the shells around ``qa.service.QA`` that people use.

``api`` (the REST API), ``chat`` (``qa chat`` in a terminal), ``render`` (an answer as
Markdown/HTML for the browser), ``library`` (the corpus as documents: list, checked upload,
delete), ``examples`` (example questions from the corpus's own headings).
"""
