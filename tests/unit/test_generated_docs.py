"""docs/api-reference.md and docs/xen-api.dtd are what the datamodel generates now."""

import os

from xen.xend.api import reference, xmlrepr

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "docs")


def test_api_reference_is_current():
    with open(os.path.join(DOCS, "api-reference.md")) as f:
        assert f.read() == reference.markdown(), \
            "regenerate with: python -m xen.xend.api.reference docs"


def test_dtd_file_is_current():
    with open(os.path.join(DOCS, "xen-api.dtd")) as f:
        assert f.read() == xmlrepr.dtd_text()
