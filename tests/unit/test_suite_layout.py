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
