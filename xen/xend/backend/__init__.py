"""Hypervisors behind one interface (base.Backend); the daemon picks one in
daemon/app.py. A backend may import host and util only, not even the API's
declarations: the domain owner hands it what to build (spec.DomainSpec), and it
answers with values and BackendError.

==============  ===================================================================
module          holds
==============  ===================================================================
base            the contract: Backend, BackendError, the guest events GUEST_*
spec            what a backend is given: DomainSpec (VMConfig: the VM fields
                backends act on, typed), DiskSpec, NicSpec
common          what backends share: start checks, BIOS boot letters, private
                files, the lookup of a guest a backend runs
qemu/           QEMU processes driven over QMP (see qemu/__init__.py for its modules)
xen/            Xen domains driven with xl and watched through xenstore (see
                xen/__init__.py)
sim             the simulated backend, for fast tests and hosts with no hypervisor
==============  ===================================================================
"""
