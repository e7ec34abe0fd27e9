"""int8 models that are right on every x86 CPU, and the check that says so on this one.

ONNX Runtime's dynamic int8 matrix products take unsigned 8-bit activations and signed 8-bit
weights (U8S8). Where the CPU has VNNI (``vpdpbusd``) the products are summed in 32 bits; on
AVX2 and on AVX-512 without VNNI they go through ``vpmaddubsw``, which adds two products in a
*saturating 16-bit* lane: 255 x 127 x 2 = 64,770 overflows 32,767, and m3e-small's int8 copy fell
to cosine 0.75 of fp32 on an AMD EPYC (AVX2). Weights quantised to 7 bits (``reduce_range``)
keep every pair within 255 x 64 x 2 = 32,640, so one recipe (``RECIPE``) is right everywhere;
it costs nothing measurable on a VNNI CPU (``bench/RESULTS.md``).

Nothing guards the next model or the next CPU but a check, so every int8 model is compared with
its fp32 twin on the CPU it runs on (``verdict``), once per CPU kind (``cpu_isa``) and ONNX
Runtime version, the verdict kept beside the model (``CHECKS_FILE``); a model that strays is
run in fp32 with a warning, and a log line names the path taken either way.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("qa")

#: how int8 files are made: per-channel QInt8 weights in 7 bits, activations at run time
RECIPE = "qint8-per-channel-reduce-range"
CHECKS_FILE = "int8-checks.json"


def cpu_isa() -> str:
    """The instruction sets that pick ONNX Runtime's int8 kernels on this CPU:
    ``amx``, ``avx512-vnni``, ``avx-vnni``, ``avx512``, ``avx2`` or the machine's name."""
    try:
        flags = set()
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        flags = set()
    for flag, name in (("amx_int8", "amx"), ("avx512_vnni", "avx512-vnni"),
                       ("avx_vnni", "avx-vnni"), ("avx512bw", "avx512"), ("avx2", "avx2")):
        if flag in flags:
            return name
    return platform.machine() or "unknown"


def cpu_name() -> str:
    """The CPU's model name, for benchmark tables."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def runtime_key() -> str:
    """What a verdict holds for: this CPU kind and this ONNX Runtime."""
    import onnxruntime

    return f"{cpu_isa()}/onnxruntime-{onnxruntime.__version__}"


@contextlib.contextmanager
def quiet_root_logger() -> Iterator[None]:
    """The quantiser logs advice on the root logger (and ``logging.warning`` would configure
    logging as a side effect): hold the root logger at ERROR, with a handler, meanwhile."""
    root = logging.getLogger()
    level, quiet = root.level, logging.NullHandler()
    root.addHandler(quiet)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
        root.removeHandler(quiet)


def quantize_int8(src: Path, dst: Path) -> None:
    """Write ``dst``, the int8 copy of the fp32 ONNX model ``src`` by ``RECIPE``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with warnings.catch_warnings(), quiet_root_logger():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(src), str(dst), per_channel=True, reduce_range=True,
                         weight_type=QuantType.QInt8)


def dequantize(src: Path, dst: Path) -> None:
    """Write ``dst``, the fp32 model that the dynamic-int8 model ``src`` approximates: every
    ``MatMulInteger`` on a constant int8 weight becomes a ``MatMul`` on its dequantised weight
    (``(q - zero_point) * scale``, per tensor or per output channel), fed the activation before
    its run-time quantisation; quantised embedding tables keep their exact ``DequantizeLinear``.
    What is computed then differs from ``src`` only by the activations' rounding, which is what
    an int8 check measures."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    users: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    drop: set[int] = set()
    added = []
    for node in list(graph.node):
        if node.op_type != "MatMulInteger" or node.input[1] not in inits:
            continue
        quant = producer[node.input[0]]  # DynamicQuantizeLinear(x) -> x_q, scale, zero point
        cast = users[node.output[0]][0]
        scaled = users[cast.output[0]][0]  # Mul(cast, x_scale * w_scale)
        product = producer[next(i for i in scaled.input if i != cast.output[0])]
        w_scale = next(i for i in product.input if i in inits)
        base = node.input[1].removesuffix("_quantized")
        q = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zero = numpy_helper.to_array(inits[node.input[3]]).astype(np.float32) \
            if len(node.input) > 3 and node.input[3] in inits else np.float32(0)
        scale = numpy_helper.to_array(inits[w_scale]).astype(np.float32)
        weight = (q - zero) * scale  # per-channel scales and zero points broadcast on columns
        name = f"{base}_dequantized"
        graph.initializer.append(numpy_helper.from_array(weight.astype(np.float32), name))
        added.append(helper.make_node("MatMul", [quant.input[0], name], [scaled.output[0]],
                                      name=(node.name or base).removesuffix("_quant")))
        drop.update({id(node), id(cast), id(scaled)})
    kept = [n for n in graph.node if id(n) not in drop]
    del graph.node[:]
    graph.node.extend(kept + added)
    _sort_nodes(graph)
    _prune(model)
    onnx.save(model, str(dst))


def _prune(model: Any) -> None:
    """Drop nodes and initializers that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(node.input)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def _sort_nodes(graph: Any) -> None:
    """Order nodes so that each comes after the producers of its inputs (ONNX requires it)."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(i in known for i in n.input)]
        if not ready:
            raise ValueError("the dequantised graph has a cycle or a missing input")
        for n in ready:
            ordered.append(n)
            known.update(n.output)
        pending = [n for n in pending if all(id(n) != id(r) for r in ready)]
    del graph.node[:]
    graph.node.extend(ordered)


def verdict(store: Path, model: Path, measure: Callable[[], float],
            minimum: float) -> tuple[bool, float]:
    """Whether the int8 ``model`` may run on this CPU: ``measure()`` (its agreement with its
    fp32 twin, higher is better) against ``minimum``, measured once per file and
    ``runtime_key`` and kept in ``store``/``CHECKS_FILE``. Returns (ok, the measured value)."""
    path = store / CHECKS_FILE
    key = f"{model.name}:{model.stat().st_size}:{runtime_key()}"
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    entry = known.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("value"), float | int):
        value = float(measure())
        entry = {"value": round(value, 6), "recipe": RECIPE,
                 "checked": time.strftime("%Y-%m-%dT%H:%M:%S")}
        known[key] = entry
        with contextlib.suppress(OSError):  # a read-only folder checks again next time
            fd, tmp = tempfile.mkstemp(prefix=f".{CHECKS_FILE}.", dir=store)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(known, f, indent=1)
            os.replace(tmp, path)
    value = float(entry["value"])
    return value >= minimum, value
