"""The README's test command runs every test directory."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_make_test_runs_every_test_directory():
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    tiers = re.search(r"TEST_TIERS := (.*?)\n\n", text, re.S).group(1)
    listed = set(re.findall(r"tests/(\w+)", tiers))
    present = {d for d in os.listdir(os.path.join(ROOT, "tests"))
               if os.path.isdir(os.path.join(ROOT, "tests", d))
               and any(n.startswith("test_") and n.endswith(".py")
                       for n in os.listdir(os.path.join(ROOT, "tests", d)))}
    assert present == listed


def test_test_module_names_are_unique():
    """Test directories have no __init__.py, so two modules of one name collide."""
    names = [n for _, _, files in os.walk(os.path.join(ROOT, "tests")) for n in files
             if n.startswith("test_") and n.endswith(".py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def _helper_modules(tier):
    """The plain modules (not tests, not conftest) a tier keeps for itself."""
    return {n[:-3] for n in os.listdir(os.path.join(ROOT, "tests", tier))
            if n.endswith(".py") and not n.startswith("test_") and n != "conftest.py"}


def test_no_tier_imports_another_tiers_helpers():
    """What tiers share is in tests/harness.py; a tier's own helpers stay its own."""
    import ast
    tests = os.path.join(ROOT, "tests")
    tiers = [d for d in os.listdir(tests) if os.path.isdir(os.path.join(tests, d))
             and not d.startswith((".", "_"))]
    owner = {m: t for t in tiers for m in _helper_modules(t)}
    crossing = []
    for tier in tiers:
        for name in os.listdir(os.path.join(tests, tier)):
            if not name.endswith(".py"):
                continue
            with open(os.path.join(tests, tier, name)) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and not node.level
                         else [])
                for module in names:
                    top = (module or "").split(".")[0]
                    if owner.get(top, tier) != tier:
                        crossing.append("tests/%s/%s imports %s (tests/%s)"
                                        % (tier, name, top, owner[top]))
    assert crossing == []
