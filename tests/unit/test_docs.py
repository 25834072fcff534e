"""The docs match the code: the README's layout table names every module, every SPEC section the code cites
exists in docs/spec.md, tests/README.md names test files that exist, and the JSON schema has one copy."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("provisioner", "devtools")


def _modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative != "devtools/__init__.py":
                found.append(relative)
    return found


def _layout_table() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Layout"):]
    return set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE))


def test_the_layout_table_lists_every_module_and_no_module_that_is_gone():
    listed = _layout_table()
    modules = set(_modules())
    assert sorted(modules - listed) == [], "modules missing from the README's layout table"
    gone = sorted(name for name in listed if name.endswith(".py") and name not in modules)
    assert gone == [], "the layout table names modules that do not exist"


def test_every_cited_spec_section_exists_in_docs():
    spec = (ROOT / "docs" / "spec.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\.", spec, flags=re.MULTILINE))
    cited: dict[str, set[str]] = {}
    for package in (*PACKAGES, "tests"):
        for path in (ROOT / package).rglob("*.py"):
            for number in re.findall(r"SPEC (\d+)", path.read_text(encoding="utf-8")):
                cited.setdefault(number, set()).add(path.relative_to(ROOT).as_posix())
    assert cited, "the code cites SPEC sections; this test should see them"
    missing = {number: sorted(paths) for number, paths in cited.items() if number not in sections}
    assert missing == {}


def test_tests_readme_names_test_files_that_exist():
    text = (ROOT / "tests" / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_[a-z0-9_]+\.py)`", text))
    existing = {path.name for path in (ROOT / "tests").rglob("test_*.py")}
    assert named, "tests/README.md maps behaviours to files"
    assert sorted(named - existing) == []


def test_the_plan_schema_and_its_doc_name_every_change_type():
    import json
    import typing

    from provisioner.core import changes as c

    names = {_type_name(t) for t in typing.get_args(c.AnyChange)}
    assert len(names) > 20
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text(encoding="utf-8"))
    listed = set(schema["$defs"]["change"]["properties"]["type"]["enum"])
    assert listed == names
    doc = (ROOT / "docs" / "plan-json.md").read_text(encoding="utf-8")
    assert [name for name in sorted(names) if name not in doc] == []


def _type_name(cls: type) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in cls.__name__).lstrip("_")


def test_the_json_schema_has_one_copy():
    copies = [
        path for path in ROOT.rglob("accounts.schema.json")
        if not any(part in {".venv", "build", ".git", "node_modules"} for part in path.relative_to(ROOT).parts)
        and not path.parent.is_symlink()
    ]
    assert [path.relative_to(ROOT).as_posix() for path in copies] == ["schemas/accounts.schema.json"]
    assert (ROOT / "provisioner" / "schemas").resolve() == (ROOT / "schemas").resolve()
