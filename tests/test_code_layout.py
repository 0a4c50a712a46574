"""How pearlkit's modules depend on each other: no import cycles, no imports hidden in functions."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "pearlkit"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def pearlkit_imports(nodes: list[ast.stmt], modules: set[str]) -> set[str]:
    """The pearlkit modules that these statements import (``from pearlkit import x`` names
    module ``pearlkit.x`` where that is a module)."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "pearlkit"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pearlkit":
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found |= submodules or {node.module}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the pearlkit modules it imports when it is imported (TYPE_CHECKING blocks left out)."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = {}
    for path in paths:
        body = [n for n in ast.parse(path.read_text()).body if not is_type_checking_block(n)]
        graph[module_name(path)] = pearlkit_imports(body, modules) - {module_name(path)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None (depth-first search)."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target] if target in path else path + [target]
            if target not in state:
                cycle = visit(target, path + [target])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_pearlkit_modules():
    # The package's own __init__ imports its public names; a submodule that imports
    # `pearlkit` itself would close a cycle through it.
    assert find_cycle(import_graph()) is None


def test_no_pearlkit_import_inside_a_function():
    hidden = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
                if pearlkit_imports(inner, set()):
                    hidden.append(f"{path.name}:{node.name}")
    assert hidden == []
