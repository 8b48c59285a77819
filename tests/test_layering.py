"""The house rules of docs/architecture.md, read from the source: who may import whom, and no circles.

Every import counts, a function's lazy one too; only imports under `if TYPE_CHECKING:` are left out, since
they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOLDERS = {"duetto": REPO / "live", "duetto.offline": REPO / "offline", "duetto.tools": REPO / "tools",
           "duetto.train": REPO / "train", "duetto.export": REPO / "export", "duetto.models": REPO / "models"}

# each room's layer: a module imports only from rooms of its own layer or below
LAYERS = {
    "duetto": 0, "duetto.atomic": 0, "duetto.errors": 0, "duetto.fluidsynth": 0, "duetto.models": 0,
    "duetto.midi": 1, "duetto.music": 1,
    "duetto.encodings": 2, "duetto.model": 2,
    "duetto.voices": 3,
    "duetto.families": 4,
    "duetto.jam": 5, "duetto.offline": 5,
    "duetto.train": 6, "duetto.export": 6,
    "duetto.tools": 7,
    "duetto.cli": 8, "duetto.__main__": 8,
}
RUNTIME = [room for room, layer in LAYERS.items() if layer <= 5]
PRODUCERS = ["duetto.train", "duetto.export"]
NEVER_IN_RUNTIME = ["duetto.tools", *PRODUCERS, "duetto.cli"]
TEST_RIGS = "support"  # tests/support: never shipped, so never imported by the package
TRAINING_LIBRARIES = ["torch", "onnx", "onnxscript", "music21", "tqdm"]
APART = [("duetto.jam", "duetto.offline")]  # rooms of one layer that must not lean on each other


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = modules()


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(name: str, path: Path, lazy: bool = True) -> set[str]:
    """The modules `name` imports: Duetto's by dotted name (a `from package import module` names the
    module), and other libraries by their top-level name; with `lazy` off, only those imported when the
    module itself is (not inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if not lazy and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found - {name}


IMPORTS = {name: imported(name, path) for name, path in MODULES.items()}


def room_of(module: str) -> str:
    """The room a module lives in: the longest entry of LAYERS it falls under."""
    rooms = [room for room in LAYERS if module == room or module.startswith(room + ".")]
    return max(rooms, key=len)


def within(module: str, rooms: list[str]) -> bool:
    return any(module == room or module.startswith(room + ".") for room in rooms)


def test_every_module_has_a_room_and_every_room_exists():
    assert all(room_of(module) for module in MODULES)
    for room in LAYERS:
        assert room in MODULES, f"{room} is in LAYERS but not in the tree"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    layer = LAYERS[room_of(name)]
    upward = sorted(module for module in IMPORTS[name] if module.startswith("duetto")
                    and LAYERS[room_of(module)] > layer)
    assert upward == [], f"{name} (layer {layer}) imports from above it: {upward}"


@pytest.mark.parametrize("name", sorted(module for module in MODULES if room_of(module) in RUNTIME))
def test_the_runtime_needs_neither_the_producers_nor_the_rigs_nor_torch(name):
    assert sorted(module for module in IMPORTS[name] if within(module, NEVER_IN_RUNTIME)) == []
    assert sorted(module for module in IMPORTS[name] if module.split(".")[0] in TRAINING_LIBRARIES) == []


@pytest.mark.parametrize("name", sorted(module for module in MODULES if room_of(module) == "duetto.tools"))
def test_the_tools_import_the_producers_only_where_a_figure_needs_them(name):
    """The demo and `duetto bench latency` run on the runtime alone: a tool reaches the training side
    (a PyTorch baseline, a dataset's shards) inside the function that needs it, never on import."""
    path = MODULES[name]
    assert sorted(module for module in imported(name, path, lazy=False) if within(module, PRODUCERS)) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_package_never_imports_the_test_rigs(name):
    assert sorted(module for module in IMPORTS[name] if module.split(".")[0] == TEST_RIGS) == []


def test_rooms_of_one_layer_stay_apart():
    for first, second in APART:
        for one, other in ((first, second), (second, first)):
            leaning = sorted(name for name in MODULES if room_of(name) == one
                             and any(module.startswith("duetto") and room_of(module) == other
                                     for module in IMPORTS[name]))
            assert leaning == [], f"{one} must not import {other}: {leaning}"


def test_no_import_circles():
    graph = {name: {module for module in IMPORTS[name] if module in MODULES} for name in MODULES}
    circles = strongly_connected(graph)
    assert circles == [], f"import circles: {circles}"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of two or more modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_the_rules_catch_what_they_forbid(tmp_path):
    """The checks themselves: an upward import and a circle, written out, are both found."""
    lower = tmp_path / "lower.py"
    lower.write_text("from duetto.jam.engine import Engine\n\ndef later():\n    import duetto.tools.bench\n")
    found = imported("duetto.music.lower", lower)
    assert {"duetto.jam.engine", "duetto.tools.bench"} <= found
    guarded = tmp_path / "guarded.py"
    guarded.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from duetto.jam.engine import Engine\n")
    assert "duetto.jam.engine" not in imported("duetto.music.guarded", guarded)
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tool = tmp_path / "tool.py"
    tool.write_text("from duetto.train.loop import train\n\ndef baseline():\n    import duetto.export.onnx\n")
    assert imported("duetto.tools.tool", tool, lazy=False) == {"duetto.train.loop"}
