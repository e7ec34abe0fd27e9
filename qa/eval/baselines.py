"""The plain LangChain recipe, as a baseline: ``RecursiveCharacterTextSplitter`` with its default
separators, the same embedding model without any preparation, FAISS exact search, no BM25, no
abstention. ``qa eval --compare`` scores it beside qa's own retrieval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.answer.answerer import Answer, Passage, citation
from qa.config import Settings
from qa.ingest.corpus import read_corpus
from qa.ingest.text import bigrams, sentence_spans
from qa.models.embedding import Embedder

CHUNK_SIZE, CHUNK_OVERLAP = 300, 50


@dataclass
class PlainChunk:
    source: str
    start: int
    end: int
    text: str


class PlainRecipe:
    """What a LangChain tutorial builds: split, embed, ``IndexFlatIP``, top-k."""

    def __init__(self, settings: Settings, model: Any = None) -> None:
        """``model``: the loaded model to share (else loaded here); texts reach a single model
        as they are (no lowercasing), an e5 model still in its query and passage roles, and
        each model of a pair "a+b" prepares them its own way (m3e lowercased)."""
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.embedder = Embedder(settings.with_(lowercase=False), model)
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE,
                                                  chunk_overlap=CHUNK_OVERLAP,
                                                  add_start_index=True)
        self.chunks: list[PlainChunk] = []
        for doc in read_corpus(settings.corpus_dir).documents:
            for d in splitter.create_documents([doc.text]):
                start = int(d.metadata["start_index"])
                self.chunks.append(PlainChunk(doc.source, start, start + len(d.page_content),
                                              d.page_content))
        vecs = self.embedder.encode([c.text for c in self.chunks])
        self.index = faiss.IndexFlatIP(vecs.shape[1])
        self.index.add(np.asarray(vecs, dtype=np.float32))

    def ask(self, question: str, k: int = 3, history: list[str] | None = None) -> Answer:
        q = self.embedder.encode_query(question)[None, :]
        scores, ids = self.index.search(q, min(k, len(self.chunks)))
        passages = []
        for n, (i, s) in enumerate(zip(ids[0], scores[0], strict=True), 1):
            c = self.chunks[int(i)]
            passages.append(Passage(c.text, c.source, c.start, c.end, float(s),
                                    citation(n, c.source, 0, c.start, c.end), 0))
        text = ""
        if passages:  # the answer "sentence": the top chunk's sentence sharing most bigrams
            top, wanted = passages[0], set(bigrams(question))
            spans = list(sentence_spans(top.text)) or [(0, len(top.text))]
            s, e = max(spans, key=lambda se: len(wanted & set(bigrams(top.text[se[0]:se[1]]))))
            text = top.text[s:e]
        return Answer(question, True, text, passages, confidence=1.0)
