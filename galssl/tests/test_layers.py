# Licensed under a 3-clause BSD style license - see LICENSE.rst
"""The package's layers (docs/architecture.rst), checked on every import statement of the
installed sources, deferred imports inside functions included: each subpackage imports only
from the layers below it, siblings of one layer not from each other, no module imports
another subpackage's private modules or names (``galssl.utils`` is the shared internal
toolbox and the exception), and no two modules import each other, directly or in a circle.

The same layers are an import-linter contract in ``setup.cfg`` (``tox -e codestyle``); this
test keeps the two in step when the source tree is at hand."""

import ast
import configparser
import os

import pytest

import galssl

#: Top first; ``|`` separates independent siblings.
LAYERS = [
    "cli | _deprecated",
    "visualization",
    "research",
    "photoz | morphology | search",
    "ssl",
    "engine | pretrained | simulate",
    "cutouts | augment | nn | datasets",
    "dust",
    "surveys",
    "utils",
]

ROOT = os.path.dirname(os.path.abspath(galssl.__file__))


def _layer_of():
    where = {}
    for depth, layer in enumerate(LAYERS):
        for name in layer.split("|"):
            where[name.strip()] = depth
    return where


def _modules():
    """{dotted name: path} of every non-test module of the installed package."""
    out = {}
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in ("tests", "__pycache__", "data")]
        for fn in files:
            if fn.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, fn), os.path.dirname(ROOT))
                parts = rel[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                out[".".join(parts)] = os.path.join(folder, fn)
    return out


def _imports(name, path):
    """(target, line) of every ``galssl`` import in a module: ``from a import b`` gives
    ``a.b`` (a submodule or a name) when ``a.b`` is not a module, ``a`` and ``a.b``."""
    is_pkg = path.endswith("__init__.py")
    package = name.split(".") if is_pkg else name.split(".")[:-1]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                yield f"{mod}.{alias.name}", mod, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, alias.name, node.lineno


def _graph():
    modules = _modules()
    edges, problems = {}, []
    layer = _layer_of()
    for name, path in modules.items():
        src = name.split(".")
        src_sub = src[1] if len(src) > 1 else None
        targets = edges.setdefault(name, set())
        for full, mod, line in _imports(name, path):
            if not mod.startswith("galssl"):
                continue
            target = full if full in modules else mod
            if target in modules and target != name:
                targets.add(target)
            dst = full.split(".")
            if len(dst) < 2 or dst[1] in ("__version__", "_version"):
                continue
            dst_sub = dst[1]
            if src_sub is None or dst_sub == src_sub:
                continue
            where = f"{name} (line {line}) imports {full}"
            if src_sub not in layer or dst_sub not in layer:
                problems.append(f"{where}: a subpackage missing from LAYERS")
            elif layer[dst_sub] == layer[src_sub]:
                problems.append(f"{where}: siblings of one layer are independent")
            elif layer[dst_sub] < layer[src_sub]:
                problems.append(f"{where}: an import from a higher layer")
            if dst_sub != "utils" and any(p.startswith("_") for p in dst[2:]):
                problems.append(f"{where}: a private name of another subpackage")
    return edges, problems


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_import_goes_down_the_layers_and_none_is_private():
    edges, problems = _graph()
    assert len(edges) > 60, "the package's modules were not found"
    assert not problems, "\n".join(problems)


def test_no_module_imports_itself_through_others():
    edges, _ = _graph()
    # a package's __init__ importing its own modules is how a package is built, and its
    # modules importing names from the package is how they share them: leave those out
    inner = {a: {b for b in targets if not (b.startswith(a + ".") or a.startswith(b + "."))}
             for a, targets in edges.items()}
    assert _cycles(inner) == []


def test_the_checks_see_a_violation(tmp_path, monkeypatch):
    """The checks are not vacuous: an upward, a sibling and a private import, and a
    circle, planted in copies of the graph, are found."""
    edges, problems = _graph()
    edges = {k: set(v) for k, v in edges.items()}
    edges["galssl.dust._ebv"].add("galssl.dust._coefficients")
    edges["galssl.dust._coefficients"].add("galssl.dust._ebv")
    assert ["galssl.dust._coefficients", "galssl.dust._ebv"] in _cycles(edges)
    planted = {"galssl.ssl._encoder": [("galssl.photoz.PhotoZEstimator", "galssl.photoz", 1)],
               "galssl.photoz._estimator": [("galssl.search.SimilaritySearch",
                                             "galssl.search", 1),
                                            ("galssl.ssl._encoder.x", "galssl.ssl._encoder",
                                             2)]}
    real = _imports

    def with_planted(name, path):
        yield from real(name, path)
        yield from planted.get(name, [])

    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "_imports", with_planted)
    _, found = _graph()
    text = "\n".join(found)
    assert "galssl.ssl._encoder (line 1) imports galssl.photoz.PhotoZEstimator: an import " \
           "from a higher layer" in text
    assert "imports galssl.search.SimilaritySearch: siblings" in text
    assert "imports galssl.ssl._encoder.x: a private name" in text


def test_import_linter_contract_matches():
    """setup.cfg's import-linter contract holds the same layers (source tree only)."""
    cfg = os.path.join(ROOT, "..", "setup.cfg")
    if not os.path.isfile(cfg):
        pytest.skip("not run from a source tree")
    parser = configparser.ConfigParser()
    parser.read(cfg)
    layers = [line.strip() for line in
              parser["importlinter:contract:layers"]["layers"].strip().splitlines()]
    mine = [" | ".join(f"galssl.{n.strip()}" for n in layer.split("|")) for layer in LAYERS]
    assert layers == mine


def test_scripts_and_benchmarks_use_public_names_only():
    """``scripts/`` and ``benchmarks/`` are entry points on the package: no private galssl
    module or name, no ``sys.path`` edits, no importing of each other (source tree only)."""
    top = os.path.join(ROOT, "..")
    folders = [os.path.join(top, d) for d in ("scripts", "benchmarks")]
    if not all(os.path.isdir(f) for f in folders):
        pytest.skip("not run from a source tree")
    # entry points (a helper module such as benchmarks/_timing.py may be shared)
    local = {fn[:-3] for f in folders for fn in os.listdir(f)
             if fn.endswith(".py") and not fn.startswith("_")}
    problems = []
    for folder in folders:
        for fn in sorted(os.listdir(folder)):
            if not fn.endswith(".py"):
                continue
            path = os.path.join(folder, fn)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    parts = name.split(".")
                    if parts[0] == "galssl" and any(p.startswith("_") for p in parts[1:]) \
                            and parts[1] not in ("__version__",):
                        problems.append(f"{fn}:{node.lineno} imports {name}")
                    if parts[0] in local:
                        problems.append(f"{fn}:{node.lineno} imports the script {name}")
                if isinstance(node, ast.Attribute) and node.attr in ("insert", "append") and \
                        isinstance(node.value, ast.Attribute) and node.value.attr == "path" \
                        and getattr(node.value.value, "id", None) == "sys":
                    problems.append(f"{fn}:{node.lineno} edits sys.path")
    assert not problems, "\n".join(problems)
