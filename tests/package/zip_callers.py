"""Who calls the zip's code: its public names against the references in function/ and scripts/.

A public name is a module-level function, class or constant of a shipped module, or a method or
class attribute of a shipped class (no leading underscore). It is *called* when something other
than its own definition reads it: a name or attribute load, or a `from ... import` of it, in a
non-test Python file below function/ or scripts/. Tests do not count: code that only tests call
is dead weight in the zip.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lambda_package.sources import collect_function_files


@dataclass(frozen=True)
class Definition:
    """One public name the zip ships: `module.name` or `module.Class.name`."""

    module: str
    qualname: str
    path: Path
    lines: range
    """Where it is defined: a read there (its own body) is no caller."""

    @property
    def key(self) -> str:
        return f"{self.module}.{self.qualname}"

    @property
    def leaf(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


def _module_name(archive_name: str) -> str:
    return archive_name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _public(name: str) -> bool:
    return not name.startswith("_")


def _targets(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target.id
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id


def _instance_attributes(cls: ast.ClassDef) -> set[str]:
    """The attributes a class's methods assign on `self`."""
    return {
        node.attr
        for node in ast.walk(cls)
        if isinstance(node, ast.Attribute)
        and isinstance(node.ctx, ast.Store)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    }


def shipped_definitions(function_dir: Path) -> list[Definition]:
    """Every public name defined by the zip's Python modules."""
    found: list[Definition] = []
    for archive_name, file in collect_function_files(function_dir).items():
        if not archive_name.endswith(".py"):
            continue
        module = _module_name(archive_name)
        path = file.resolve()

        def where(node: ast.AST, path: Path = path) -> tuple[Path, range]:
            start, end = getattr(node, "lineno", 0), getattr(node, "end_lineno", None) or 0
            return path, range(start, end + 1)

        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _public(node.name):
                found.append(Definition(module, node.name, *where(node)))
            elif isinstance(node, ast.ClassDef) and _public(node.name):
                found.append(Definition(module, node.name, *where(node)))
                for member in node.body:
                    names = (
                        [member.name]
                        if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
                        else list(_targets(member))
                    )
                    found.extend(
                        Definition(module, f"{node.name}.{name}", *where(member))
                        for name in names
                        if _public(name)
                    )
                # Assigned on `self`: any read counts (a Store is never one).
                found.extend(
                    Definition(module, f"{node.name}.{name}", path, range(0))
                    for name in sorted(_instance_attributes(node))
                    if _public(name) and not any(d.qualname == f"{node.name}.{name}" for d in found)
                )
            else:
                found.extend(
                    Definition(module, n, *where(node)) for n in _targets(node) if _public(n)
                )
    return found


def _is_test(path: Path) -> bool:
    return path.name == "conftest.py" or path.name.startswith("test_") or "tests" in path.parts


@dataclass
class References:
    """What the non-test code reads: module-level names resolved to `module.name` through each
    file's imports, and attribute names (for class members, matched by name)."""

    qualified: dict[str, list[tuple[Path, int]]]
    attributes: dict[str, list[tuple[Path, int]]]


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it stands for (`consumer.x` or `consumer.x.name`)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """`a.b.c` for an attribute chain on an imported name, resolved through the aliases."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _imported_on_first_call(node: ast.AST) -> str | None:
    """`module.name` of a `lazy_import.on_first_call("module", "name")` stand-in (a read of
    that name, written as two strings), else None."""
    if not (isinstance(node, ast.Call) and len(node.args) == 2):
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    parts = [a.value for a in node.args if isinstance(a, ast.Constant)]
    if called != "on_first_call" or not all(isinstance(p, str) for p in parts) or len(parts) != 2:
        return None
    return f"{parts[0]}.{parts[1]}"


def references(roots: list[Path], module_of: dict[Path, str]) -> References:
    """Every read in the non-test Python files below `roots`."""
    refs = References({}, {})
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if _is_test(path.relative_to(root)):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            aliases = _aliases(tree)
            resolved = path.resolve()  # once per file: per node it cost ~45 s a run
            own = module_of.get(resolved)
            for node in ast.walk(tree):
                at = (resolved, getattr(node, "lineno", 0))
                if isinstance(node, ast.ImportFrom) and node.module:
                    for alias in node.names:
                        refs.qualified.setdefault(f"{node.module}.{alias.name}", []).append(at)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    if own is not None:
                        refs.qualified.setdefault(f"{own}.{node.id}", []).append(at)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                    refs.attributes.setdefault(node.attr, []).append(at)
                    dotted = _dotted(node, aliases)
                    if dotted is not None:
                        refs.qualified.setdefault(dotted, []).append(at)
                elif isinstance(node, ast.keyword) and node.arg:
                    refs.attributes.setdefault(node.arg, []).append(at)
                elif (name := _imported_on_first_call(node)) is not None:
                    refs.qualified.setdefault(name, []).append(at)
    return refs


def _inside(read: tuple[Path, int], definition: Definition) -> bool:
    return read[0] == definition.path and read[1] in definition.lines


def uncalled(function_dir: Path, roots: list[Path]) -> list[str]:
    """The zip's public names that nothing outside tests reads (`module.name`), sorted."""
    module_of = {
        path.resolve(): _module_name(name)
        for name, path in collect_function_files(function_dir).items()
        if name.endswith(".py")
    }
    refs = references(roots, module_of)
    result = []
    for definition in shipped_definitions(function_dir):
        if "." in definition.qualname:  # a class member: read as `<anything>.name`
            readers = refs.attributes.get(definition.leaf, [])
        else:
            readers = refs.qualified.get(definition.key, [])
        if all(_inside(read, definition) for read in readers):
            result.append(definition.key)
    return sorted(result)
