"""Packaging for xend: the Xen Management API daemon and the xm command line."""

from setuptools import find_packages, setup

setup(
    name="xend",
    version="0.1.0",
    description="A host daemon serving the Xen Management API (draft 0.2) with real VMs",
    packages=find_packages(include=["xen", "xen.*"]),
    # The built web console (make ui), served by transport/webui.py.
    package_data={"xen.xend": ["webui/static/*"]},
    python_requires=">=3.11",
    install_requires=["lxml", "psutil", "python-daemon", "qemu.qmp", "cryptography",
                      "wsproto"],
    # postgres: the store on PostgreSQL (database = "postgresql://..." in the configuration).
    extras_require={"test": ["pytest", "xenapi", "hypothesis", "prometheus_client", "ruff",
                             "pexpect", "pytest-xdist", "playwright"],
                    "postgres": ["psycopg[binary]>=3.2"]},
    entry_points={"console_scripts": ["xend = xen.xend.daemon.cli:main", "xm = xen.xm.main:main"]},
)
