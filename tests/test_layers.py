"""The folders of batch/ are the architecture: each may import only the folders below it.

Read from the source (every import, those inside functions and under TYPE_CHECKING too), so a
lazy import cannot slip past. The rules are the ones each folder's __init__ docstring states.
"""

import ast
from pathlib import Path

import batch

PACKAGE = Path(batch.__file__).parent

# folder -> the batch folders (or modules) its modules may import, besides its own.
ALLOWED = {
    "core": set(),
    "sheets": {"core"},
    "durable": {"core"},
    "wire": {"core", "durable"},
    "output": {"core", "durable"},
    "engine": {"core", "sheets", "wire", "durable", "output"},
    "cli": {"core", "sheets", "wire", "durable", "output", "engine", "simulator"},
    # The stand-in decides as the service does, from its own code and data: of pcbatch it may
    # use only the error it raises on bad settings and the one file writer. Were it to share
    # the client's rules, a bug in them would pass every test (test_simulator_independence.py).
    "simulator": {"core.errors", "durable.files"},
}


def batch_imports(path: Path) -> set[str]:
    """The batch modules a file imports, without the leading `batch.`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(n.removeprefix("batch.") for n in names if n.startswith("batch."))
    return found


def folder_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def allowed(folder: str, imported: str) -> bool:
    if imported.split(".")[0] == folder:
        return True
    return any(imported == rule or imported.startswith(rule + ".") for rule in ALLOWED[folder])


def test_every_module_of_batch_lives_in_a_folder_of_the_architecture():
    loose = sorted(
        p.name for p in PACKAGE.glob("*.py") if p.name not in {"__init__.py", "__main__.py"}
    )
    assert loose == []
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(ALLOWED)


def test_each_folder_imports_only_the_folders_its_docstring_allows():
    wrong = [
        f"{path.relative_to(PACKAGE)} imports batch.{imported}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent != PACKAGE
        for imported in sorted(batch_imports(path))
        if not allowed(folder_of(path), imported)
    ]
    assert wrong == []


def test_the_layer_check_sees_an_upward_import(tmp_path):
    # The check must be able to fail: an engine module importing the CLI is caught.
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from batch.cli.run import run\n", encoding="utf-8")
    assert batch_imports(module) == {"cli.run"}
    assert not allowed("engine", "cli.run")
    assert allowed("engine", "core.model")
