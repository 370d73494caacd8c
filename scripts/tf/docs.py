"""Render the inputs/outputs tables of the Terraform READMEs in terraform-docs' markdown format.

    python -m tf.docs --write   # update every README between the markers (make docs)
    python -m tf.docs --check   # exit 1 and show a diff when one is stale

Reads the `.tf` files of `terraform/` and of each `terraform/modules/*` (as `terraform fmt`
writes them) and replaces what lies between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`
in the README beside them. No terraform-docs binary needed (none installs offline here).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sbc_tools.cli import parser_for
from sbc_tools.paths import REPO

TERRAFORM = REPO / "terraform"
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REGISTRY = "https://registry.terraform.io/providers/hashicorp/{provider}/latest/docs/{kind}/{name}"

BLOCK_START = re.compile(
    r'^(variable|output|resource|data|module)\s+"([^"]+)"(?:\s+"([^"]+)")?\s*\{'
)
ATTRIBUTE = re.compile(r"^\s{2}(\w+)\s*=\s*(.*)$")


class DocsError(Exception):
    """A configuration this script cannot read; the message names the file and the line."""


@dataclass
class Variable:
    name: str
    description: str = ""
    type: str = "any"
    default: str | None = None


@dataclass
class Output:
    name: str
    description: str = ""


@dataclass
class Config:
    """What the tables show of one Terraform configuration (a module or the root)."""

    required_version: str | None = None
    providers: dict[str, str] = field(default_factory=dict)
    variables: list[Variable] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    resources: list[tuple[str, str, str]] = field(default_factory=list)  # kind, type, name
    modules: list[tuple[str, str]] = field(default_factory=list)  # name, source


def _balance(text: str) -> int:
    """Net count of opening brackets in `text`, ignoring those inside string literals."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
    return depth


def _blocks(path: Path) -> list[tuple[tuple[str, str, str | None], list[str], int]]:
    """Top-level blocks of a formatted .tf file: (kind, label, second label), body lines, line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[tuple[tuple[str, str, str | None], list[str], int]] = []
    index = 0
    while index < len(lines):
        match = BLOCK_START.match(lines[index])
        if not match:
            index += 1
            continue
        start = index
        depth = _balance(lines[index])
        body: list[str] = []
        index += 1
        while depth > 0:
            if index >= len(lines):
                raise DocsError(f"{path}:{start + 1}: unbalanced block {match.group(0)!r}")
            depth += _balance(lines[index])
            if depth > 0:
                body.append(lines[index])
            index += 1
        blocks.append(((match.group(1), match.group(2), match.group(3)), body, start + 1))
    return blocks


def _attributes(body: list[str]) -> dict[str, str]:
    """Top-level attributes of a block body (two-space indent), multi-line values joined."""
    attributes: dict[str, str] = {}
    index = 0
    while index < len(body):
        match = ATTRIBUTE.match(body[index])
        if not match or body[index].startswith("   "):
            index += 1
            continue
        name, value = match.group(1), match.group(2)
        depth = _balance(value)
        index += 1
        while depth > 0 and index < len(body):
            value += "\n" + body[index]
            depth += _balance(body[index])
            index += 1
        attributes[name] = value.strip()
    return attributes


def _string(value: str, where: str) -> str:
    """The text of a one-line HCL string literal (escapes decoded; no interpolation expected)."""
    if not (value.startswith('"') and value.endswith('"')):
        raise DocsError(f"{where}: expected a quoted string, got {value!r}")
    try:
        decoded: str = json.loads(value)
    except json.JSONDecodeError as error:
        raise DocsError(f"{where}: cannot read the string {value!r}: {error}") from error
    return decoded


def read_config(directory: Path) -> Config:
    config = Config()
    for path in sorted(directory.glob("*.tf")):
        for (kind, label, second), body, line in _blocks(path):
            where = f"{path.relative_to(REPO)}:{line}"
            attributes = _attributes(body)
            if kind == "variable":
                config.variables.append(
                    Variable(
                        name=label,
                        description=_string(attributes.get("description", '""'), where),
                        type=attributes.get("type", "any"),
                        default=attributes.get("default"),
                    )
                )
            elif kind == "output":
                description = _string(attributes.get("description", '""'), where)
                config.outputs.append(Output(name=label, description=description))
            elif kind in {"resource", "data"} and second is not None:
                config.resources.append((kind, label, second))
            elif kind == "module":
                config.modules.append((label, _string(attributes.get("source", '""'), where)))
        _read_versions(path, config)
    return config


def _read_versions(path: Path, config: Config) -> None:
    text = path.read_text(encoding="utf-8")
    version = re.search(r'^\s*required_version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if version:
        config.required_version = version.group(1)
    for match in re.finditer(r"^\s*(\w+)\s*=\s*\{([^}]*)\}", text, re.MULTILINE | re.DOTALL):
        source = re.search(r'source\s*=\s*"([^"]+)"', match.group(2))
        constraint = re.search(r'version\s*=\s*"([^"]+)"', match.group(2))
        if source and constraint:
            config.providers[match.group(1)] = constraint.group(1)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def _anchor(prefix: str, name: str) -> str:
    escaped = name.replace("_", "\\_")
    return f'<a name="{prefix}_{name}"></a> [{escaped}](#{prefix}\\_{escaped})'


def _code(value: str) -> str:
    if "\n" in value:
        return "<pre>" + value.replace("\n", "<br>").replace("|", "\\|") + "</pre>"
    return "`" + value.replace("|", "\\|") + "`"


def _section(title: str, header: list[str], rows: list[str], empty: str) -> list[str]:
    """One terraform-docs section: a heading and a table, or a sentence when there is no row."""
    if not rows:
        return [f"## {title}", "", empty, ""]
    align = [
        "|:--------:" if column == "Required" else "|" + "-" * (len(column) + 2)
        for column in header
    ]
    return [f"## {title}", "", "| " + " | ".join(header) + " |", "".join(align) + "|", *rows, ""]


def _resource_row(kind: str, resource_type: str, name: str) -> tuple[str, str]:
    provider, short = resource_type.split("_", 1)
    docs = "resources" if kind == "resource" else "data-sources"
    url = REGISTRY.format(provider=provider, kind=docs, name=short)
    label = f"{'data.' if kind == 'data' else ''}{resource_type}.{name}"
    return label, f"| [{label}]({url}) | {'resource' if kind == 'resource' else 'data source'} |"


def _input_row(variable: Variable) -> str:
    default = "n/a" if variable.default is None else _code(variable.default)
    required = "yes" if variable.default is None else "no"
    return (
        f"| {_anchor('input', variable.name)} | {_escape(variable.description)} | "
        f"{_code(variable.type)} | {default} | {required} |"
    )


def render(config: Config) -> str:
    """The tables in terraform-docs' default markdown layout."""
    requirements = [f"| {_anchor('requirement', 'terraform')} | {config.required_version} |"]
    requirements = requirements if config.required_version else []
    requirements += [
        f"| {_anchor('requirement', name)} | {version} |"
        for name, version in sorted(config.providers.items())
    ]
    used = sorted({resource_type.split("_", 1)[0] for _, resource_type, _ in config.resources})
    providers = [
        f"| {_anchor('provider', name)} | {config.providers.get(name, 'n/a')} |" for name in used
    ]
    modules = [f"| {_anchor('module', name)} | {source} | n/a |" for name, source in config.modules]
    resources = [row for _, row in sorted(_resource_row(*r) for r in config.resources)]
    ordered = sorted(config.variables, key=lambda v: (v.default is not None, v.name))
    outputs = [
        f"| {_anchor('output', output.name)} | {_escape(output.description)} |"
        for output in sorted(config.outputs, key=lambda o: o.name)
    ]
    lines = [
        *_section("Requirements", ["Name", "Version"], requirements, "No requirements."),
        *_section("Providers", ["Name", "Version"], providers, "No providers."),
        *_section("Modules", ["Name", "Source", "Version"], modules, "No modules."),
        *_section("Resources", ["Name", "Type"], resources, "No resources."),
        *_section(
            "Inputs",
            ["Name", "Description", "Type", "Default", "Required"],
            [_input_row(v) for v in ordered],
            "No inputs.",
        ),
        *_section("Outputs", ["Name", "Description"], outputs, "No outputs."),
    ]
    return "\n".join(lines).rstrip("\n")


def updated_readme(readme: Path, tables: str) -> str:
    text = readme.read_text(encoding="utf-8")
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise DocsError(f"{readme.relative_to(REPO)}: needs exactly one {BEGIN} ... {END} pair")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{tables}\n{END}{tail}"


def configurations() -> list[Path]:
    return [
        TERRAFORM,
        *sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir()),
        *sorted(p for p in (TERRAFORM / "examples").iterdir() if (p / "main.tf").is_file()),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, __spec__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="update the READMEs in place")
    mode.add_argument("--check", action="store_true", help="fail when a README is stale")
    args = parser.parse_args(argv)

    stale = 0
    try:
        for directory in configurations():
            readme = directory / "README.md"
            if not readme.exists():
                print(f"missing: {readme.relative_to(REPO)}", file=sys.stderr)
                stale += 1
                continue
            current = readme.read_text(encoding="utf-8")
            wanted = updated_readme(readme, render(read_config(directory)))
            name = str(readme.relative_to(REPO))
            if current == wanted:
                print(f"up to date: {name}")
            elif args.write:
                readme.write_text(wanted, encoding="utf-8")
                print(f"updated:    {name}")
            else:
                stale += 1
                print(f"stale:      {name} (run `make docs`)")
                diff = difflib.unified_diff(
                    current.splitlines(), wanted.splitlines(), name, f"{name} (wanted)", lineterm=""
                )
                print("\n".join(diff))
    except DocsError as error:
        print(f"tf.docs: {error}", file=sys.stderr)
        return 2
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
