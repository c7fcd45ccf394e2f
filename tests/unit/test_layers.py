"""The layers of xen/ (docs/architecture.md) import only downwards.

Every import statement of every module under xen/, function-level ones included,
is resolved to the module it names; a module may import only from its own layer
and the layers its row of ALLOWED lists.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The API's declarations: pure data and value rules, read by every layer but the backends.
MODEL = ("xen.xend.api.datamodel", "xen.xend.api.enums", "xen.xend.api.errortable",
         "xen.xend.api.types", "xen.xend.api.errors",
         "xen.xend.api.lifecycle", "xen.xend.api.values", "xen.xend.api.xmltime",
         "xen.xend.api.xmltext", "xen.xend.api.renames", "xen.xend.api.model")

# Layer -> the module prefixes that make it up; the first that matches a module wins.
LAYERS = {
    "util": ("xen.xend.util",),
    "model": MODEL,
    "backend": ("xen.xend.backend",),
    "host": ("xen.xend.host",),
    "state": ("xen.xend.state",),
    "api": ("xen.xend.api",),
    "transport": ("xen.xend.transport",),
    "xm": ("xen.xm",),
    "daemon": ("xen.xend.daemon", "xen.xend.__main__"),
}
# The packages that only hold the layers: a module directly in them belongs to none.
HOLDERS = {"xen": "daemon", "xen.xend": "daemon"}

# What each layer may import besides itself, lowest layers first.
ALLOWED = {
    "util": set(),
    "model": {"util"},
    "backend": {"host", "util"},
    "host": {"model", "util"},
    "state": {"model", "backend", "host", "util"},
    "api": {"model", "state", "backend", "host", "util"},
    "transport": {"api", "model", "state", "host", "util"},
    "daemon": {"transport", "api", "model", "state", "backend", "host", "util"},
    # xm is a client of the API: only the declarations it shares with the daemon.
    "xm": {"model"},
}


def layer_of(module):
    """The layer of a module under xen/, by its dotted name."""
    if module in HOLDERS:
        return HOLDERS[module]
    for layer, prefixes in LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    raise AssertionError("%s belongs to no layer" % module)


def modules():
    """(dotted name, whether a package, path) of every module under xen/."""
    for dirpath, _, files in os.walk(os.path.join(ROOT, "xen")):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                dotted = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                is_pkg = dotted.endswith(".__init__")
                yield (dotted[:-9] if is_pkg else dotted), is_pkg, path


def imports(module, is_pkg, path):
    """The xen.* modules (or names in them) that the module at ``path`` imports."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    package = module.split(".") if is_pkg else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("xen."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1]
                                + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base == "xen" or base.startswith("xen."):
                yield from (base + "." + a.name for a in node.names)


def test_every_module_belongs_to_a_layer():
    for module, _, _ in modules():
        layer_of(module)


@pytest.mark.parametrize("module, is_pkg, path",
                         [m for m in modules()], ids=[m[0] for m in modules()])
def test_imports_go_only_downwards(module, is_pkg, path):
    mine = layer_of(module)
    upward = []
    for target in imports(module, is_pkg, path):
        # "from xen.xend.api import datamodel" names a module; "from x import f" a name in x.
        theirs = layer_of(target)
        if theirs != mine and theirs not in ALLOWED[mine]:
            upward.append("%s (%s)" % (target, theirs))
    assert not upward, "%s (layer %s) imports %s" % (module, mine, ", ".join(upward))


def test_the_rule_catches_an_upward_import(tmp_path):
    """The check itself: a backend module naming the API is reported."""
    path = tmp_path / "probe.py"
    path.write_text("from ..api.handlers import vm\nfrom . import base\n")
    found = [layer_of(t) for t in imports("xen.xend.backend.probe", False, str(path))]
    assert found == ["api", "backend"]
    assert "api" not in ALLOWED["backend"]
