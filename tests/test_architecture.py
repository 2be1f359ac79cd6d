"""The layers of ARCHITECTURE.md hold: import-linter's contracts, module sizes, no private names across packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
# Modules past the limit, each waiting for its split; the list only shrinks (it is empty: keep it so).
TOO_LONG_FOR_NOW: set[str] = set()
# converters' internals that pipeflow shares; converters.__all__ is pinned public API, so they stay private.
CONVERTERS_SHARED = {"converters._errors", "converters._limits", "converters._pandas"}  # _errors: the root PipeflowError
# Private imports across packages waiting for a name in the other package's __all__.
PENDING: set[tuple[str, str]] = set()


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str) -> str:
    """`pipeflow.running._gc` -> `pipeflow.running`; the authoring modules at the top -> `pipeflow`."""
    parts = module.split(".")
    if parts[0] != "pipeflow":
        return parts[0]
    return ".".join(parts[:2]) if len(parts) > 1 and (ROOT / "pipeflow" / parts[1]).is_dir() else "pipeflow"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(absolute module, names imported from it) for every import of a module, lazy ones included."""
    module = _name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [alias.name for alias in node.names]
            if node.module is None or target in {"pipeflow"}:  # `from .. import wire`: modules by name
                for name in names:
                    found.append((f"{target}.{name}", []))
            else:
                found.append((target, names))
    return found


def test_import_linter_contracts_are_kept() -> None:
    lint = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())"]
    out = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_module_is_past_the_size_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for package in ("pipeflow", "converters")
        for path in _modules(package)
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) <= TOO_LONG_FOR_NOW, f"past {MAX_LINES} lines: {long}"


def test_packages_use_only_what_other_packages_export() -> None:
    wrong = []
    for path in _modules("pipeflow"):
        module = _name(path)
        own = _package_of(module)
        for target, names in _imports(path):
            if target.split(".")[0] not in {"pipeflow", "converters"}:
                continue
            if target.startswith("converters"):
                private = any(p.startswith("_") for p in target.split(".")[1:])
                if private and target not in CONVERTERS_SHARED:
                    wrong.append(f"{module} imports {target}")
                continue
            other = _package_of(target)
            if other == own or other == "pipeflow" and not names:
                continue
            inner = target[len(other) + 1:].split(".") if target != other else []
            if other != "pipeflow" and any(p.startswith("_") for p in inner) and (module, target) not in PENDING:
                wrong.append(f"{module} imports the private module {target}")
            wrong.extend(f"{module} imports the private name {target}.{n}" for n in names if n.startswith("_"))
    assert not wrong, "\n".join(wrong)
