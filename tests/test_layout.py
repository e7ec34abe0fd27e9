"""The tree shows the pipeline: each package imports only from the roles below it, no module
imports its way back into itself, and nothing that answers a question loads the training or
evaluation code."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from qa.config import PROJECT_ROOT

QA = PROJECT_ROOT / "qa"
#: the roles, lowest first: a module may import its own role and those before it
LAYERS = ("qa.errors", "qa.config", "qa.progress", "qa.ingest", "qa.models", "qa.store", "qa.search",
          "qa.answer", "qa.service", "qa.bases", "qa.serve", "qa.cli")
SIDE = ("qa.train", "qa.eval")  # may import anything; only the CLI and each other import them
TOP = {"qa", "qa.__main__", "qa.cli"}  # the public face and the shells


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in QA.rglob("*.py")}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(qa module imported, whether at module level) of every import that runs (imports under
    ``if TYPE_CHECKING:`` never do)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    top_level = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out += [(n, id(node) in top_level) for n in names if n in MODULES]
    return out


def layer(module: str) -> int | None:
    for i, role in enumerate(LAYERS):
        if module == role or module.startswith(role + "."):
            return i
    return None


def role(module: str) -> str:
    return next((r for r in (*LAYERS, *SIDE) if module == r or module.startswith(r + ".")),
                module)


def test_no_module_imports_from_a_role_above_its_own() -> None:
    wrong = []
    for name, path in MODULES.items():
        mine = layer(name)
        if mine is None or name in TOP:
            continue
        for target, _ in imports(path):
            theirs = layer(target)
            if theirs is not None and theirs > mine:
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong


def test_training_and_evaluation_are_imported_only_by_the_cli_and_each_other() -> None:
    wrong = []
    for name, path in MODULES.items():
        if role(name) in SIDE:
            continue
        for target, at_top in imports(path):
            if role(target) in SIDE and (name != "qa.cli" or at_top):
                wrong.append(f"{name} imports {target}" + (" at load" if at_top else ""))
    assert not wrong, wrong


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        graph[name] |= {t for t, _ in imports(path) if t != name}
    seen: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1 and nxt != "qa":  # every module imports its package
                raise AssertionError(" -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[node] = 2

    for name in sorted(MODULES):
        if name not in seen:
            visit(name, [name])


def test_asking_loads_neither_training_nor_evaluation() -> None:
    code = ("import sys, qa, qa.service, qa.cli, qa.serve.api, qa.serve.chat, qa.serve.render\n"
            "import qa.serve.app\n"
            "print(sorted(m for m in sys.modules if m.startswith(('qa.train', 'qa.eval'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=300, check=True).stdout.strip().splitlines()[-1]
    assert out == "[]"


def test_no_file_over_400_lines() -> None:
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in MODULES.items()}
    assert not {n: k for n, k in long.items() if k > 400}


def test_every_package_says_what_it_is() -> None:
    for init in QA.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 40, init


def test_only_the_factory_names_the_embedded_store() -> None:
    """Callers reach a store through the seam (``qa.store.base``, ``qa.store.factory``): no
    module outside the embedded package and the factory names ``qa.store.embedded``, not even
    in a docstring or a type-only import."""
    embedded = QA / "store" / "embedded"
    named = [str(p.relative_to(PROJECT_ROOT)) for p in QA.rglob("*.py")
             if p != QA / "store" / "factory.py" and embedded not in p.parents
             and "store.embedded" in p.read_text(encoding="utf-8")]
    assert not named, named
