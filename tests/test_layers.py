"""The import rule: each layer of engine/ imports only the layers before it.

    core ← load, calendars ← check ← compile ← run ← explain, author, timeline ← ops ← usecases ←
    app ← adapters, cli.py

Layers on one rank are peers and do not import each other (load and calendars; explain,
author and timeline; adapters and cli.py). A module may import its own layer freely.
`engine/__init__.py` is the lazy facade and is exempt as an importer; `from engine import
name` inside the engine counts as importing the module the facade would load `name` from.

Every import counts: absolute and relative, at the top or inside a function, under
`if TYPE_CHECKING:` too (a type is a dependency), and `importlib.import_module("engine.x")`
with a literal name.

And the durable_rules engine (`durable`, `durable_rules_engine`) is loaded by the run layer only:
importing the decision, the facade or any layer before `run` does not load it (checked in a
fresh interpreter).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("load", "calendars"),
    ("check",),
    ("compile",),
    ("run",),
    ("explain", "author", "timeline"),
    ("ops",),
    ("usecases",),  # each use case, written once (engine/usecases/)
    ("app",),       # the use cases every host calls (engine/app.py lists them)
    ("adapters",),
    ("cli",),   # the outermost host: `serve` and `batch` start an adapter
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
FACADE = "engine/__init__.py"


def _module_name(rel: Path) -> str:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of_file(rel: Path) -> str | None:
    """`engine/<layer>/...` or `engine/<layer>.py` or `cli.py`; None when in no layer."""
    parts = rel.parts
    if parts == ("cli.py",):
        return "cli"
    if len(parts) >= 3:
        name = parts[1]
    elif len(parts) == 2:
        name = Path(parts[1]).stem
    else:
        return None
    return name if name in RANK else None


def _facade_exports(root: Path) -> dict[str, str]:
    """The facade's `_EXPORTS` table (name -> module), read without importing it."""
    init = root / FACADE
    if not init.is_file():
        return {}
    for node in ast.walk(ast.parse(init.read_text("utf-8"))):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            assert node.value is not None
            return ast.literal_eval(node.value)
    return {}


def _imported(node: ast.AST, package: str, exports: dict[str, str], root: Path) -> list[str]:
    """The dotted modules that one AST node imports (only those inside the project matter)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = package.split(".")
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        if module != "engine":
            return [module]
        found = []
        for alias in node.names:  # `from engine import x`: a submodule or a facade export
            if alias.name in exports:
                found.append(exports[alias.name])
            elif (root / "engine" / alias.name).is_dir() or \
                    (root / "engine" / f"{alias.name}.py").is_file() or alias.name in RANK:
                found.append(f"engine.{alias.name}")
        return found
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__"):
            return [node.args[0].value]
    return []


def _target_layer(module: str) -> str | None:
    """The layer a dotted module belongs to, "?" for an engine module in no layer, None for
    anything outside the project (the standard library, third parties, the bare facade)."""
    parts = module.split(".")
    if parts[0] == "cli":
        return "cli"
    if parts[0] != "engine" or len(parts) == 1:
        return None
    return parts[1] if parts[1] in RANK else "?"


def check_layers(root: Path) -> list[str]:
    """Every import against the layer direction under `root` (a folder holding engine/ and
    perhaps cli.py), as `file:line imports X (layer a may not import layer b)`."""
    root = Path(root)
    exports = _facade_exports(root)
    files = sorted((root / "engine").rglob("*.py"))
    if (root / "cli.py").is_file():
        files.append(root / "cli.py")
    problems = []
    for path in files:
        rel = path.relative_to(root)
        shown = rel.as_posix()
        if shown == FACADE:
            continue
        layer = _layer_of_file(rel)
        if layer is None:
            problems.append(f"{shown}:1 is in no layer (add it to LAYERS in tests/test_layers.py)")
            continue
        module = _module_name(rel)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text("utf-8"), filename=shown)
        for node in ast.walk(tree):
            for target in _imported(node, package, exports, root):
                other = _target_layer(target)
                if other is None or other == layer:
                    continue
                if other == "?":
                    problems.append(f"{shown}:{node.lineno} imports {target} (which is in no "
                                    f"layer)")
                elif RANK[other] >= RANK[layer]:
                    problems.append(f"{shown}:{node.lineno} imports {target} (layer {layer} "
                                    f"may not import layer {other})")
    return sorted(set(problems), key=_sort_key)


def _sort_key(problem: str) -> tuple[str, int, str]:
    where, _, rest = problem.partition(" ")
    file, _, line = where.rpartition(":")
    return file, int(line), rest


# --------------------------------------------------------------------------- the real tree


def test_engine_follows_the_import_rule():
    problems = check_layers(ROOT)
    assert not problems, "imports against the layer direction:\n" + "\n".join(problems)


def test_every_engine_package_is_a_layer():
    packages = {p.name for p in (ROOT / "engine").iterdir()
                if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages <= set(RANK), f"not in LAYERS: {sorted(packages - set(RANK))}"


# --------------------------------------------------------------------------- the checker itself


def _tree(root: Path, files: dict[str, str]) -> Path:
    """A throwaway module tree: every package gets an __init__.py, each file its source."""
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        for parent in path.relative_to(root).parents:
            if parent.parts and parent.parts[0] == "engine":
                init = root / parent / "__init__.py"
                if not init.exists():
                    init.write_text("", encoding="utf-8")
    return root


FACADE_SOURCE = """\
import importlib
_EXPORTS = {"evaluate": "engine.run.evaluator", "Decision": "engine.core.decision"}
def __getattr__(name):
    return getattr(importlib.import_module(_EXPORTS[name]), name)
"""

BAD = {
    "absolute": ("engine/core/x.py", "import engine.run.y\n", 1, "engine.run.y", "core", "run"),
    "from-absolute": ("engine/core/x.py", "import os\nfrom engine.compile.z import w\n", 2,
                      "engine.compile.z", "core", "compile"),
    "relative": ("engine/core/x.py", "from ..run import y\n", 1, "engine.run", "core", "run"),
    "relative-submodule": ("engine/check/x.py", "from ..run.adapter import run\n", 1,
                           "engine.run.adapter", "check", "run"),
    "relative-from-init": ("engine/core/__init__.py", "from ..check import files\n", 1,
                           "engine.check", "core", "check"),
    "inside-a-function": ("engine/load/x.py", "def f():\n    from engine.explain import r\n",
                          2, "engine.explain", "load", "explain"),
    "facade-submodule": ("engine/core/x.py", "from engine import run\n", 1, "engine.run",
                         "core", "run"),
    "facade-export": ("engine/compile/x.py", "from engine import Decision, evaluate\n", 1,
                      "engine.run.evaluator", "compile", "run"),
    "peer": ("engine/load/x.py", "from engine.calendars import c\n", 1, "engine.calendars",
             "load", "calendars"),
    "peer-author-explain": ("engine/author/x.py", "import engine.explain.render\n", 1,
                            "engine.explain.render", "author", "explain"),
    "the-cli": ("engine/app.py", "import cli\n", 1, "cli", "app", "cli"),
    "cli-from-adapters": ("engine/adapters/x.py", "import cli\n", 1, "cli", "adapters", "cli"),
    "type-checking": ("engine/core/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from engine.run.errors import E\n", 3, "engine.run.errors", "core",
                      "run"),
    "import-module": ("engine/run/x.py", "import importlib\nimportlib.import_module('engine.ops')"
                      "\n", 2, "engine.ops", "run", "ops"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_checker_reports_an_import_against_the_direction(tmp_path, case):
    path, source, line, target, layer, other = BAD[case]
    root = _tree(tmp_path, {"engine/__init__.py": FACADE_SOURCE, path: source})
    assert check_layers(root) == [
        f"{path}:{line} imports {target} (layer {layer} may not import layer {other})"]


def test_checker_lists_every_offending_import(tmp_path):
    root = _tree(tmp_path, {
        "engine/core/x.py": "import engine.run.y\nfrom engine.check import z\n",
        "engine/load/a.py": "def f():\n    import engine.compile.b\n",
    })
    assert check_layers(root) == [
        "engine/core/x.py:1 imports engine.run.y (layer core may not import layer run)",
        "engine/core/x.py:2 imports engine.check (layer core may not import layer check)",
        "engine/load/a.py:2 imports engine.compile.b (layer load may not import layer compile)",
    ]


def test_checker_reports_modules_in_no_layer(tmp_path):
    root = _tree(tmp_path, {"engine/misc/x.py": "", "engine/run/y.py": "import engine.utils\n",
                            "engine/utils.py": ""})
    assert check_layers(root) == [
        "engine/misc/__init__.py:1 is in no layer (add it to LAYERS in tests/test_layers.py)",
        "engine/misc/x.py:1 is in no layer (add it to LAYERS in tests/test_layers.py)",
        "engine/run/y.py:1 imports engine.utils (which is in no layer)",
        "engine/utils.py:1 is in no layer (add it to LAYERS in tests/test_layers.py)",
    ]


def test_a_clean_tree_passes(tmp_path):
    root = _tree(tmp_path, {
        "engine/__init__.py": FACADE_SOURCE + "from engine.run.evaluator import evaluate\n",
        "engine/core/decision.py": "import json\nfrom . import logic\nfrom .logic import x\n",
        "engine/core/logic.py": "import engine.core.decision\n",
        "engine/load/loader.py": "import yaml\nfrom ..core import decision\n",
        "engine/calendars/cal.py": "from engine.core.logic import x\n",
        "engine/check/c.py": "from engine.load import loader\nfrom engine.calendars import cal\n"
                             "from engine import Decision\n",
        "engine/run/evaluator.py": "import durable\nfrom engine.check import c\n"
                                   "def f():\n    from ..core import logic\n",
        "engine/explain/r.py": "from engine import evaluate\n",
        "engine/ops/log.py": "from engine.explain import r\nimport engine\n",
        "engine/app.py": "from engine.ops import log\nfrom engine import app\n",
        "engine/adapters/batch.py": "from engine import app\n",
        "cli.py": "from engine import app, evaluate\nfrom engine.run.evaluator import f\n",
    })
    assert check_layers(root) == []


# --------------------------------------------------------------------------- durable_rules

DURABLE = ("durable", "durable_rules_engine")
BELOW_RUN = [name for names in LAYERS[: RANK["run"]] for name in names]


def _modules_of(*layers: str) -> list[str]:
    found = []
    for layer in layers:
        folder = ROOT / "engine" / layer
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            found.append(_module_name(path.relative_to(ROOT)))
    return found


def _durable_loaded_by(modules: list[str]) -> list[str]:
    code = (f"import sys\nfor m in {modules!r}:\n    __import__(m)\n"
            f"print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {DURABLE!r})))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("modules", [
    pytest.param(["engine.core.decision"], id="decision"),
    pytest.param(["engine"], id="facade"),
    pytest.param(_modules_of("core"), id="core"),
    pytest.param(_modules_of(*BELOW_RUN), id="below-run"),
])
def test_importing_does_not_load_durable_rules(modules):
    """Only the run layer talks to durable_rules: the decision, the facade and every module
    before `run` import without loading the C engine."""
    assert modules
    assert _durable_loaded_by(modules) == [], f"importing {modules} loads durable_rules"


def test_the_durable_check_sees_the_engine_load():
    assert set(_durable_loaded_by(["engine.run.adapter"])) >= set(DURABLE)


# --------------------------------------------------------------------------- the facade


def test_facade_exports_name_modules_of_the_engine():
    exports = _facade_exports(ROOT)
    assert exports, "engine/__init__.py has no _EXPORTS table"
    for name, module in exports.items():
        assert _target_layer(module) not in (None, "?"), f"{name}: {module} is in no layer"


def test_every_facade_export_resolves():
    import engine

    missing = [name for name in engine.__all__ if not _resolves(engine, name)]
    assert not missing, f"engine.__all__ names that do not resolve: {missing}"


def _resolves(module, name: str) -> bool:
    try:
        getattr(module, name)
    except AttributeError:
        return False
    return True
