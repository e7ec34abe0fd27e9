"""Ingest: corpus files in, passages with exact offsets out.

``corpus`` reads files (text, Markdown, HTML, PDF; encodings detected; bad files skipped by
name) into ``Document``s; ``chunking`` cuts them into ``Chunk``s (paragraphs, headings, title
blocks, sentences, character offsets into the file); ``metadata`` reads a title block (date,
source, author); ``text`` holds the text helpers every later stage shares (normalisation,
jieba words, character bigrams, sentence splitting).
"""
