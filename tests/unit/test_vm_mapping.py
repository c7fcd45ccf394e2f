"""One VM-to-hypervisor mapping: backend/spec.py's VMConfig (the VM fields backends act on),
the code of both backends and docs/vm-mapping.md's table say the same thing.

Each VMConfig field is a datamodel VM field of the same type, read by at least one
backend and named in the table; a backend that reads a field has something to say for
it in its column, and one that does not says "—"."""

import dataclasses
import os
import re

import pytest

from xen.xend.api import datamodel, types
from xen.xend.backend.spec import VMConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BACKENDS = {"QEMU": "xen/xend/backend/qemu", "Xen": "xen/xend/backend/xen"}
CONFIG = [f.name for f in dataclasses.fields(VMConfig)]
VM_FIELDS = {f.wire: f for f in datamodel.CLASSES["VM"].fields_for("0.2")}


def _python_type(api_type):
    """The Python type a stored value of ``api_type`` has in VMConfig."""
    if isinstance(api_type, types.Set):
        return tuple
    if isinstance(api_type, types.Enum) or api_type is types.String:
        return str
    return {id(types.Int): int, id(types.Bool): bool}[id(api_type)]


def _table():
    """The rows of docs/vm-mapping.md's mapping table: (field cell, QEMU cell, Xen cell)."""
    with open(os.path.join(ROOT, "docs", "vm-mapping.md")) as f:
        text = f.read()
    section = text.split("## The mapping", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.append(tuple(cells))
    return rows[1:]     # after the header


def _named(cell):
    """The VM fields a cell names (`api/name` or `wire_name` in backquotes)."""
    names = set(re.findall(r"`([^`]+)`", cell))
    return {wire for wire, f in VM_FIELDS.items() if f.name in names or wire in names}


def _reads(package):
    """The VMConfig fields the modules of a backend package read."""
    source = ""
    for name in sorted(os.listdir(os.path.join(ROOT, package))):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, package, name)) as f:
                source += f.read()
    read = set(re.findall(r"\bvm\.(\w+)", source))
    read |= {c for c in CONFIG if '"%s"' % c in source}    # getattr(vm, key) over a table
    return read


@pytest.mark.parametrize("wire", CONFIG)
def test_a_config_field_is_a_vm_field_of_the_same_type(wire):
    assert wire in VM_FIELDS, wire
    field_type = {f.name: f.type for f in dataclasses.fields(VMConfig)}[wire]
    assert field_type is _python_type(VM_FIELDS[wire].type)


def test_backends_read_only_config_fields_and_every_one_is_read():
    reads = {name: _reads(package) for name, package in BACKENDS.items()}
    for name, read in reads.items():
        assert read <= set(CONFIG), (name, read - set(CONFIG))
    assert set(CONFIG) == set.union(*reads.values())


@pytest.mark.parametrize("wire", CONFIG)
def test_the_table_names_every_config_field(wire):
    assert any(wire in _named(" ".join(row)) for row in _table()), VM_FIELDS[wire].name


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_backends_column_says_nothing_where_it_reads_nothing(backend):
    """Rows about one field: "—" in a backend's column exactly where it ignores the field."""
    column = 1 if backend == "QEMU" else 2
    read = _reads(BACKENDS[backend])
    checked = 0
    for row in _table():
        fields = _named(row[0])
        if len(fields) != 1 or not fields <= set(CONFIG):
            continue
        (wire,) = fields
        says_nothing = row[column].startswith("—")
        assert says_nothing == (wire not in read), (backend, row[0], row[column][:60])
        checked += 1
    assert checked >= 10


def test_fields_no_backend_reads_are_not_config_fields():
    for row in _table():
        if row[1] == row[2] == "—":
            assert not _named(row[0]) & set(CONFIG), row[0]


def test_a_wire_string_is_refused():
    with pytest.raises(TypeError):
        VMConfig(memory_static_max="268435456")
    with pytest.raises(TypeError):
        VMConfig(platform_std_VGA="true")
    assert VMConfig.from_record({"VCPUs_max": 2, "VCPUs_features_can_use": ["FPU"],
                                 "bios_boot": "", "power_state": "Halted"}) == \
        VMConfig(VCPUs_max=2, VCPUs_features_can_use=("FPU",))
