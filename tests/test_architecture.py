"""The house rules, read off the source: no import cycles, no forbidden arrows, no private names
taken from another module, capability flags read without defaults, one registry per kind that
finds its entries itself, datasets and protocols in step, the public names, and the layout in
docs/architecture.md in agreement with the code."""
from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path

import pytest

import gkd
from benchmarks.protocols import PROTOCOLS
from gkd.distill.base import Distiller
from gkd.models.base import Model
from gkd.registry import Registry, import_modules

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("gkd", "benchmarks")
CAPABILITIES = ("row_independent", "supports_row_blocks", "logits_only", "uses_graph")


def _modules() -> dict[str, Path]:
    """Every module of gkd and the harness: dotted name -> file (a package is its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _target(name: str) -> str | None:
    """The project module an import of ``name`` executes: the module itself, or the package a
    name inside it belongs to (``from gkd.distill import get`` -> ``gkd.distill``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(name: str) -> list[tuple[str, str, int]]:
    """(imported project module, imported name or "", line) for every import statement of module
    ``name``, those inside functions included (they are what hid the old cycles); imports under
    ``if TYPE_CHECKING:`` are left out (they never run)."""
    tree = ast.parse(MODULES[name].read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(t, "", node.lineno) for alias in node.names if (t := _target(alias.name))]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                target = full if full in MODULES else _target(base)
                if target:
                    found.append((target, "" if full in MODULES else alias.name, node.lineno))
    return found


GRAPH = {name: sorted({t for t, _, _ in imports(name) if t != name}) for name in MODULES}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_import_reader_sees_relative_and_function_level_imports():
    assert ("gkd.distill.base", "", 0) not in imports("gkd.distill.registry")
    assert "gkd.distill.base" in GRAPH["gkd.distill.registry"]
    assert "gkd.graph.sampling" in GRAPH["gkd.interop.dgl"]
    assert "gkd.io" in GRAPH["gkd.data.catalog"]
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_no_forbidden_arrows():
    bad = []
    for name, targets in GRAPH.items():
        for target in targets:
            if name.startswith("gkd") and target.startswith("benchmarks"):
                bad.append(f"{name} -> {target} (the library never imports the harness)")
            knows_nothing = name.startswith(("gkd.data", "gkd.models", "gkd.graph"))
            if knows_nothing and target.startswith(("gkd.distill", "gkd.train")):
                bad.append(f"{name} -> {target} (data, models and graph code know no method and no trainer)")
            if name.startswith("gkd.graph") and target.startswith("gkd.models"):
                bad.append(f"{name} -> {target} (graph code knows no model)")
    methods = {cls.__module__ for _, cls in gkd.distill.METHODS.items()}
    for name in methods:
        for target in GRAPH[name]:
            if target.startswith("gkd.data") and target != "gkd.data.task":
                bad.append(f"{name} -> {target} (a method never imports a loader)")
    assert bad == []


def test_no_private_name_is_taken_from_another_module():
    taken = [f"{name}:{line} imports {alias} from {target}"
             for name in MODULES for target, alias, line in imports(name)
             if alias.startswith("_") and not alias.startswith("__") and target != name]
    assert taken == []


def test_capability_flags_are_read_without_defaults():
    """A flag read as ``getattr(model, "flag", default)`` hides a missing declaration."""
    reads = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in CAPABILITIES):
                reads.append(f"{name}:{node.lineno} getattr(..., {node.args[1].value!r})")
    assert reads == []


def _classes(package: str, base: type) -> list[type]:
    """The concrete subclasses of ``base`` defined in the modules of ``package``."""
    return [cls for name in MODULES if name.startswith(package + ".")
            for _, cls in inspect.getmembers(sys.modules[name], inspect.isclass)
            if issubclass(cls, base) and cls.__module__ == name and cls.name]


def test_every_method_and_model_class_with_a_name_is_registered():
    for cls in _classes("gkd.distill", Distiller):
        assert gkd.distill.METHODS[cls.name] is cls, cls
    for cls in _classes("gkd.models", Model):
        assert gkd.models.MODELS[cls.name] is cls, cls
    assert len(gkd.distill.METHODS) == 16 and len(gkd.models.MODELS) == 11


def test_a_package_finds_its_entries_itself(tmp_path, monkeypatch):
    """A new file in a package registers itself, with no edit elsewhere (``import_modules``)."""
    package = tmp_path / "house"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from gkd.registry import Registry, import_modules\nTHINGS = Registry('thing')\n"
        "import_modules(__name__, __path__)\n")
    (package / "alpha.py").write_text("from . import THINGS\nTHINGS.add('alpha', 1)\n")
    (package / "beta.py").write_text("from . import THINGS\nTHINGS.add('beta', 2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import house  # noqa: F401  (the package under test)

    assert house.THINGS.names() == ["alpha", "beta"] and house.THINGS["beta"] == 2
    with pytest.raises(gkd.errors.UnknownNameError, match="unknown thing 'gamma'; valid things: alpha, beta"):
        house.THINGS["gamma"]
    with pytest.raises(ValueError, match="taken"):
        house.THINGS.add("alpha", 3)
    assert callable(import_modules) and isinstance(house.THINGS, Registry)


def test_every_dataset_has_a_protocol_and_every_protocol_a_dataset():
    assert sorted(PROTOCOLS) == gkd.data.available()
    for name, proto in PROTOCOLS.items():
        assert proto.split in gkd.data.DATASETS[name].splits, name


def test_the_public_names_keep_working():
    for name in ("train_teacher", "train_student", "fit", "predict", "teacher_from_model", "teacher_from_logits",
                 "save", "load", "ModelSpec", "TrainConfig", "FitResult", "Task", "Outputs"):
        assert hasattr(gkd, name), name
    assert gkd.ModelSpec is gkd.models.ModelSpec and gkd.TrainConfig is gkd.train.TrainConfig
    for module, names in {
        gkd.data: ("load", "available", "needs_files", "DATASETS"),
        gkd.distill: ("get", "available", "register", "registered", "Distiller", "Batch", "METHODS"),
        gkd.models: ("build", "available", "HookedModel", "Model", "LayerStack", "MODELS"),
        gkd.metrics: ("accuracy", "score", "score_rows", "expected_calibration_error", "relative_calibration",
                      "predictions_agree", "faithful_share", "pgd_gap", "ibp_gap", "confidence_gap"),
    }.items():
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def _pictured_modules() -> set[str]:
    """The modules of gkd and the harness that the layout block of docs/architecture.md names: one
    per line, indented two spaces per level, ``folder/`` opening a package, ``name.py`` a module."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("<!-- layout -->")[1].split("```")[1]
    names, stack = set(), []
    for line in block.splitlines()[1:]:
        if not line.strip():
            continue
        depth, head = (len(line) - len(line.lstrip())) // 2, line.split()[0]
        del stack[depth:]
        if head.endswith("/"):
            stack.append(head[:-1])
            names.add(".".join(stack))
        elif head.endswith(".py") and head != "__init__.py":
            names.add(".".join(stack + [head[:-3]]))
    return {n for n in names if n.split(".")[0] in PACKAGES}


def test_the_architecture_picture_lists_every_module_and_no_other():
    pictured = _pictured_modules()
    actual = set(MODULES)
    assert sorted(actual - pictured) == [] and sorted(pictured - actual) == []


def test_no_module_is_a_loose_end_at_the_top_of_gkd():
    top = sorted(p.name for p in (ROOT / "gkd").glob("*.py"))
    assert top == ["__init__.py", "errors.py", "io.py", "outputs.py", "registry.py"]
    assert all(re.fullmatch(r"[a-z_]+", p.stem) for p in (ROOT / "gkd").rglob("*.py"))


def test_the_readme_is_a_guide_and_the_license_is_there():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "\npython -m pytest -q\n" in readme and "MIT License" in (ROOT / "LICENSE").read_text()
    for link in re.findall(r"\]\(((?:docs|LICENSE)[^)#]*)\)", readme):
        assert (ROOT / link).exists(), link
