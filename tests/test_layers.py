"""Imports go downwards only: the layers written once in docs/ARCHITECTURE.md (the ```layers block).

Every import in ``registry_tools`` counts, lazy ones inside functions included: a module may
import its own package and any package on a lower line of the block, nothing on its own line or
above, and every package and top-level module must be placed in the block.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "registry_tools"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def layers(text: str) -> dict[str, int]:
    """Component -> layer number (0 = highest) from the ```layers block of *text*."""
    match = re.search(r"^```layers\n(.*?)^```", text, re.M | re.S)
    assert match, "docs/ARCHITECTURE.md has no ```layers block"
    placed: dict[str, int] = {}
    for number, line in enumerate(match.group(1).strip().splitlines()):
        for name in (part.strip() for part in line.split("|")):
            assert name not in placed, f"{name} is placed twice in the layers block"
            placed[name] = number
    return placed


def component(module: str) -> str | None:
    """``registry_tools.client.install`` -> ``client``; None outside the package or for its root."""
    parts = module.split(".")
    return parts[1] if parts[0] == "registry_tools" and len(parts) > 1 else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in *path*, relative ones resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            if target == "registry_tools":  # from registry_tools import clock
                found += [(node.lineno, f"registry_tools.{alias.name}") for alias in node.names]
    return found


def violations(placed: dict[str, int]) -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = component(module_name(path))
        if source is None:
            continue
        if source not in placed:
            problems.append(f"{path.relative_to(ROOT)}: `{source}` is not placed in the layers block")
            continue
        for line, target_module in imports(path):
            target = component(target_module)
            if target is None or target == source or target == "__version__":
                continue
            if target not in placed:
                problems.append(f"{path.relative_to(ROOT)}:{line}: imports `{target}`, which the layers block does not place")
            elif placed[target] <= placed[source]:
                where = "on the same layer as" if placed[target] == placed[source] else "above"
                problems.append(f"{path.relative_to(ROOT)}:{line}: `{source}` imports `{target_module}`, {where} it")
    return problems


def test_every_import_goes_down_the_layers_written_in_architecture_md():
    assert violations(layers(ARCHITECTURE.read_text(encoding="utf-8"))) == []


def test_the_check_fails_on_an_upward_import_and_on_a_package_it_does_not_place():
    placed = layers(ARCHITECTURE.read_text(encoding="utf-8"))
    swapped = {**placed, "packs": placed["cli"], "cli": placed["packs"]}  # packs above cli: cli's imports go up
    assert any("`cli` imports `registry_tools.packs" in p for p in violations(swapped))
    unplaced = {name: layer for name, layer in placed.items() if name != "sessions"}
    assert any("`sessions` is not placed" in p for p in violations(unplaced))


@pytest.mark.parametrize(("text", "message"), [
    ("no block", "no ```layers block"),
    ("```layers\ncli\ncli | packs\n```\n", "placed twice"),
])
def test_a_malformed_layers_block_is_reported(text, message):
    with pytest.raises(AssertionError, match=message):
        layers(text)
