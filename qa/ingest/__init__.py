"""Ingest: corpus files in, passages with exact offsets out.

``corpus`` reads files (text, Markdown, HTML, PDF; encodings detected; bad files skipped by
name) into ``Document``s, handing Word, Excel/CSV, PowerPoint, scanned PDFs and images to their
converters (``docx``, ``sheets``, ``pptx``, ``scans`` with ``ocr``; ``office`` checks every
Office file first, ``tables`` writes table rows as records, ``units`` is what they return;
``uploads`` checks an upload of those types); ``chunking`` cuts them into ``Chunk``s
(paragraphs, headings, title blocks, sentences, character offsets into the file); ``metadata`` reads a title block (date,
source, author); ``text`` holds the text helpers every later stage shares (normalisation,
jieba words, character bigrams, sentence splitting).
"""
