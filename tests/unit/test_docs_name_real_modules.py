"""The docs name modules that exist, and the module map names every module.

README.md and docs/*.md name modules by path (``xen/xend/api/codec.py``) and by
dotted name (``python -m xen.xend.api.reference``); a move that leaves one
behind fails here. docs/architecture.md's module map and call diagram name
modules by their path under xen/xend/ (``state/domains.py``); each must exist,
and every module of xen/xend/ must be in the map.
"""

import glob
import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
XEND = os.path.join(ROOT, "xen", "xend")
ARCHITECTURE = os.path.join(ROOT, "docs", "architecture.md")
DOCS = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))

REPO_PATH = re.compile(r"(?<![\w/.])xen/(?:xend|xm)(?:/[\w.]+)*/?")
DOTTED = re.compile(r"(?<![\w.])xen\.(?:xend|xm)(?:\.\w+)+")
# A path under xen/xend/ as docs/architecture.md writes it: a layer's directory first.
LAYER_PATH = re.compile(r"(?<![\w/.])(?:util|api|host|backend|state|transport|daemon)/[\w/.]*"
                        r"|(?<![\w/.])__main__\.py")


def _read(path):
    with open(path) as f:
        return f.read()


def _names(pattern, text):
    """Every match of ``pattern`` in ``text``, without the full stop of a sentence."""
    return sorted({m.rstrip(".") for m in pattern.findall(text)})


def _is_module(dotted):
    path = os.path.join(ROOT, *dotted.split("."))
    return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))


def _resolves(dotted):
    """Whether ``dotted`` is a module, or names found in the longest module it begins with."""
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        module = ".".join(parts[:cut])
        if _is_module(module):
            obj = importlib.import_module(module)
            for attr in parts[cut:]:
                if not hasattr(obj, attr):
                    return False
                obj = getattr(obj, attr)
            return True
    return False


def _architecture_structure():
    """The module map and the call diagram of docs/architecture.md (not "Where to look",
    which may name what a change is about to add)."""
    text = _read(ARCHITECTURE)
    return text[:text.index("\n## Where to look")]


@pytest.mark.parametrize("doc", DOCS, ids=[os.path.relpath(d, ROOT) for d in DOCS])
def test_every_path_and_dotted_module_a_doc_names_exists(doc):
    text = _read(doc)
    missing = [p for p in _names(REPO_PATH, text) if not os.path.exists(os.path.join(ROOT, p))]
    missing += [d for d in _names(DOTTED, text) if not _resolves(d)]
    assert not missing, "%s names what does not exist: %s" % (
        os.path.relpath(doc, ROOT), ", ".join(missing))


def test_the_architecture_names_only_modules_that_exist():
    named = _names(LAYER_PATH, _architecture_structure())
    assert named, "the module map names no module"
    assert [p for p in named if not os.path.exists(os.path.join(XEND, p))] == []


def test_the_module_map_names_every_module():
    named = set(_names(LAYER_PATH, _architecture_structure()))
    modules = {os.path.relpath(os.path.join(d, f), XEND) for d, _, files in os.walk(XEND)
               for f in files if f.endswith(".py") and f != "__init__.py"}
    assert sorted(modules - named) == []


def test_the_checks_catch_a_moved_module():
    """The patterns find what a stale doc would say, and the checks refuse it."""
    text = ("The listeners (`xen/xend/server.py`, `python -m xen.xend.server`) "
            "and `xen.xend.api.codec.no_such_function`.")
    assert _names(REPO_PATH, text) == ["xen/xend/server.py"]
    assert not os.path.exists(os.path.join(ROOT, "xen/xend/server.py"))
    assert [d for d in _names(DOTTED, text) if not _resolves(d)] == [
        "xen.xend.api.codec.no_such_function", "xen.xend.server"]
    assert _resolves("xen.xend.api.codec.decode_call")
    assert _names(LAYER_PATH, "listeners -> state/domains.py. And api/handlers/.") == [
        "api/handlers/", "state/domains.py"]
