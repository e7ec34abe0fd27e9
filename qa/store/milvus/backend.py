"""The index in Milvus (``QA_STORE=milvus://host:19530`` or ``milvus-lite:PATH.db``): two sets
of collections, blue and green, behind one alias per collection.

- ``{prefix}_chunks_a`` / ``{prefix}_sentences_a`` and ``…_b``: two sets (``qa.store.milvus.store``
  has their schema); the aliases ``{prefix}_chunks`` and ``{prefix}_sentences`` name the set
  being served. The chunks alias is the commit point: the served set is the one it names.
- ``{prefix}_meta``: each set's manifest (the embedded index's manifest, plus the set, its
  sentence count, next free chunk id and dense index kinds), as a head row ``{set}/head`` and
  ASCII JSON parts ``{set}/0…``.

A build (``qa.store.milvus.build``) brings the other set up to date and switches the aliases to it;
readers keep the set they loaded (one ``MilvusStore``, one generation). The build lock is an
``flock``: beside the ``.db`` for Milvus Lite (which one process opens at a time anyway); for a
remote Milvus in ``QA_INDEX_DIR``, so it keeps builds *on one machine* from interleaving: run
builds for one prefix from one machine (docs/milvus.md).
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qa.config import Settings
from qa.errors import BadSetting
from qa.store.base import (
    IndexCorrupt,
    IndexMissing,
    StoreUnavailable,
    check_compatible,
    hold_lock,
)
from qa.store.milvus.store import Collections, MilvusStore, call, quiet_pymilvus

if TYPE_CHECKING:
    from qa.models.embedding import Embedder
    from qa.store.base import BuildReport, Progress

SETS = ("a", "b")
#: seconds a request may take before the server counts as unreachable
TIMEOUT = 30.0
PART_CHARS = 60_000  # of ASCII JSON, under the VARCHAR limit
META_DIM = 2  # Milvus wants a vector field in every collection; meta rows hold [1, 0]

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class Target:
    """Where ``QA_STORE`` points: the URI pymilvus gets, and the words messages use."""

    uri: str
    where: str
    lite_path: Path | None = None


def parse_target(store: str) -> Target:
    """``milvus://host:port`` (``milvus+https://`` for TLS) or ``milvus-lite:PATH.db``."""
    if store.startswith("milvus-lite:"):
        raw = store.removeprefix("milvus-lite:").strip()
        path = Path(raw).expanduser().resolve()
        if not raw or path.suffix != ".db":
            raise BadSetting(f"QA_STORE={store!r}: milvus-lite wants a path ending in .db")
        return Target(str(path), f"milvus-lite:{path}", path)
    for scheme, http in (("milvus://", "http"), ("milvus+https://", "https")):
        if store.startswith(scheme):
            parts = urlsplit(f"{http}://{store.removeprefix(scheme)}")
            try:
                port = parts.port
            except ValueError:
                port = None
            if not parts.hostname or port is None or parts.username or parts.password:
                raise BadSetting(f"QA_STORE={store!r}: expected {scheme}host:port (the token "
                                 "goes in QA_MILVUS_TOKEN)")
            return Target(f"{http}://{parts.hostname}:{port}", f"{scheme}{parts.netloc}")
    raise BadSetting(f"QA_STORE={store!r}: expected milvus://host:port, "
                     "milvus+https://host:port or milvus-lite:PATH.db")


def _lite_held_elsewhere(path: Path) -> bool:
    """Whether another process has the Milvus Lite data folder open (its ``LOCK`` taken)."""
    lock = path / "LOCK"
    if not lock.is_file():
        return False
    with lock.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def connect(target: Target, token: str) -> Any:
    """One ``MilvusClient`` per URI and token in this process (``StoreUnavailable`` naming the
    URI when it cannot be had; never the token)."""
    key = (target.uri, token)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            return client
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise StoreUnavailable(f"QA_STORE={target.where} needs pymilvus and milvus-lite: "
                                   "pip install -e '.[milvus]'") from None
        quiet_pymilvus()
        if target.lite_path:  # its server runs in this process: it says what fails itself
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        if target.lite_path and _lite_held_elsewhere(target.lite_path):
            raise StoreUnavailable(
                f"{target.where} is open in another process (Milvus Lite serves one process "
                "at a time): stop it, or serve the folder with `milvus-lite server --data-dir "
                f"{target.lite_path}` and set QA_STORE=milvus://127.0.0.1:19530")
        # Milvus Lite's server takes pymilvus's keepalive pings (every 10 s, calls or not)
        # for abuse and says so on stderr ("too_many_pings"): on loopback they are not needed
        quiet = {"grpc.keepalive_time_ms": 3_600_000, "grpc.keepalive_permit_without_calls": 0}
        try:
            client = MilvusClient(uri=target.uri, token=token, timeout=TIMEOUT,
                                  grpc_options=quiet if target.lite_path else {})
        except Exception as exc:  # pymilvus's, grpc's or milvus-lite's: all mean "no server"
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            raise StoreUnavailable(f"cannot reach Milvus at {target.where}: {reason}") from None
        _clients[key] = client
        return client


class MilvusBackend:
    """The index in Milvus collections (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.target = parse_target(settings.store)
        self.prefix = settings.milvus_prefix
        if not self.prefix.replace("_", "a").isalnum() or not self.prefix[0].isalpha():
            raise BadSetting(f"QA_MILVUS_PREFIX={self.prefix!r}: letters, digits and _ only, "
                             "starting with a letter")
        self.meta = f"{self.prefix}_meta"
        self.aliases = Collections(f"{self.prefix}_chunks", f"{self.prefix}_sentences")
        self.loaded: set[str] = set()  # collections this backend has loaded

    def describe(self) -> str:
        return f"{self.target.where} (collections {self.prefix}_*)"

    @property
    def client(self) -> Any:
        return connect(self.target, self.settings.milvus_token)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return call(self.target.where, fn, *args, **kwargs)

    def ready(self, collection: str) -> bool:
        """Whether ``collection`` exists; loaded (once per backend) when it does: Milvus Lite
        opens every collection released."""
        if collection in self.loaded:
            return True
        if not self.call(self.client.has_collection, collection):
            return False
        self.call(self.client.load_collection, collection)
        self.loaded.add(collection)
        return True

    def names(self, which: str) -> Collections:
        return Collections(f"{self.prefix}_chunks_{which}", f"{self.prefix}_sentences_{which}")

    # -- which set is served ---------------------------------------------------------------

    def active_set(self) -> str | None:
        """The set the chunks alias names, or None before the first build."""
        from pymilvus.exceptions import MilvusException

        client = self.client
        try:
            name = client.describe_alias(self.aliases.chunks)["collection_name"]
        except MilvusException:
            if self.aliases.chunks in self.call(client.list_aliases)["aliases"]:
                raise StoreUnavailable(f"Milvus at {self.target.where}: cannot read alias "
                                       f"{self.aliases.chunks}") from None
            return None  # no alias yet: nothing built
        which = name.rsplit("_", 1)[-1]
        if which not in SETS or name != self.names(which).chunks:
            raise IndexCorrupt(f"Milvus alias {self.aliases.chunks} names {name}, not one of "
                               f"qa's collections")
        return which

    def current_name(self) -> str | None:
        which = self.active_set()
        if which is None:
            return None
        head = self.read_head(which)
        return str(head.get("generation", "")) if head else ""

    # -- manifests in the meta collection --------------------------------------------------

    def ensure_meta(self) -> None:
        client = self.client
        if self.ready(self.meta):
            return
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("body", DataType.VARCHAR, max_length=65_535)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=META_DIM)
        index = client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        self.call(client.create_collection, self.meta, schema=schema,
                  consistency_level="Strong")
        self.call(client.create_index, self.meta, index, sync=False)
        self.call(client.load_collection, self.meta)

    def read_head(self, which: str) -> dict[str, Any] | None:
        if not self.ready(self.meta):
            return None
        rows = self.call(self.client.get, self.meta, ids=[f"{which}/head"],
                         output_fields=["id", "body"])
        return json.loads(rows[0]["body"]) if rows else None

    def read_manifest(self, which: str) -> dict[str, Any] | None:
        """The manifest of a set, or None when it has none (never built, or a build of it
        was cut short: its content is unknown)."""
        head = self.read_head(which)
        if not head:
            return None
        ids = [f"{which}/{i}" for i in range(int(head["parts"]))]
        rows = {r["id"]: r["body"] for r in self.call(self.client.get, self.meta, ids=ids,
                                                      output_fields=["id", "body"])}
        if set(rows) != set(ids):
            return None
        manifest = json.loads("".join(rows[i] for i in ids))
        return manifest if manifest.get("generation") == head.get("generation") else None

    def clear_manifest(self, which: str) -> None:
        """Forget a set's manifest: from now on its content counts as unknown."""
        self.call(self.client.delete, self.meta, filter=f'id like "{which}/%"')

    def write_manifest(self, which: str, manifest: dict[str, Any]) -> None:
        """Write a set's manifest, its head row last."""
        text = json.dumps(manifest, ensure_ascii=True, sort_keys=True)
        parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
        rows = [{"id": f"{which}/{i}", "body": p, "vector": [1.0, 0.0]}
                for i, p in enumerate(parts)]
        head = {"generation": manifest["generation"], "parts": len(parts)}
        self.call(self.client.upsert, self.meta, rows)
        self.call(self.client.upsert, self.meta,
                  [{"id": f"{which}/head", "body": json.dumps(head), "vector": [1.0, 0.0]}])
        self.call(self.client.flush, self.meta)

    # -- serving ---------------------------------------------------------------------------

    def count(self, collection: str) -> int:
        rows = self.call(self.client.query, collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def served(self) -> tuple[str, dict[str, Any]]:
        """The served set and its manifest (``IndexMissing`` before the first build,
        ``IndexCorrupt`` when the set has no complete manifest)."""
        which = self.active_set()
        if which is None:
            raise IndexMissing(f"no index in Milvus at {self.describe()} (run `qa build`)")
        manifest = self.read_manifest(which)
        if manifest is None:
            raise IndexCorrupt(f"Milvus at {self.describe()}: the served set {which} has no "
                               "complete manifest")
        return which, manifest

    def manifest(self) -> dict[str, Any]:
        return self.served()[1]

    def load(self) -> MilvusStore:
        """The served set as a ``MilvusStore``, checked: its manifest against the settings, its
        row counts against the manifest (``IndexProblem`` saying what is wrong)."""
        which, manifest = self.served()
        check_compatible(manifest, self.settings)
        names = self.names(which)
        expected = {names.chunks: manifest["chunks"], names.sentences: manifest["sentences"]}
        for collection, rows in expected.items():
            if not self.ready(collection):
                raise IndexCorrupt(f"Milvus at {self.target.where}: {collection} is missing")
            if self.count(collection) != rows:
                raise IndexCorrupt(f"Milvus at {self.target.where}: {collection} holds "
                                   f"{self.count(collection)} rows, its manifest {rows}")
        return MilvusStore(self.client, names, manifest, self.target.where)

    def switch_to(self, which: str) -> None:
        """Point the aliases at ``which``: sentences first, then chunks (the commit)."""
        names = self.names(which)
        existing = set(self.call(self.client.list_aliases)["aliases"])
        for alias, collection in ((self.aliases.sentences, names.sentences),
                                  (self.aliases.chunks, names.chunks)):
            verb = self.client.alter_alias if alias in existing else self.client.create_alias
            self.call(verb, collection, alias)

    # -- building --------------------------------------------------------------------------

    @contextmanager
    def lock(self, wait: bool = True,
             on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """The build lock: an ``flock`` beside the ``.db`` (Milvus Lite) or in the index
        folder (a remote Milvus: builds on this machine only)."""
        if self.target.lite_path:
            path = self.target.lite_path.with_name(self.target.lite_path.name + ".lock")
        else:
            path = self.settings.index_dir / f".milvus-{self.prefix}.lock"
        with hold_lock(path, wait, on_wait):
            yield

    def build(self, embedder: Embedder, progress: Progress | None = None, wait: bool = True,
              full: bool = False) -> BuildReport:
        from qa.store.milvus.build import build_milvus

        return build_milvus(self, embedder, progress, wait=wait, full=full)
