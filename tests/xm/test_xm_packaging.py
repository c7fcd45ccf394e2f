"""What xm depends on: only the API's pure-data modules, and an install that ships them."""

import subprocess
import sys

from harness import ROOT
from setuptools import find_packages


def test_xm_imports_no_daemon_internals():
    probe = ("import sys, xen.xm.main; "
             "print(' '.join(sorted(m for m in sys.modules if m.startswith('xen.xend'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    # datamodel (with its enums and errortable) and lifecycle are data; types is what
    # datamodel's declarations are made of; xmltext is the pure text rules of to_XML;
    # errors the Failure the lifecycle's rules raise.
    assert set(out) <= {"xen.xend", "xen.xend.api", "xen.xend.api.datamodel",
                        "xen.xend.api.enums", "xen.xend.api.errortable",
                        "xen.xend.api.errors", "xen.xend.api.lifecycle", "xen.xend.api.types",
                        "xen.xend.api.xmltext", "xen.xend.api.renames", "xen.xend.api.model",
                        "xen.xend.api.model.schema", "xen.xend.api.model.vm",
                        "xen.xend.api.model.host", "xen.xend.api.model.network",
                        "xen.xend.api.model.storage"}


def test_an_install_ships_the_api_package_xm_imports():
    packages = find_packages(where=ROOT, include=["xen", "xen.*"])
    assert {"xen.xm", "xen.xm.commands", "xen.xend.api"} <= set(packages)
