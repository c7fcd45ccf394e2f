"""The Xen backend: guests are Xen domains, for a daemon running in dom0.

==========  ========================================================================
module      holds
==========  ========================================================================
backend     XenBackend, the Backend contract: each call finds the domain and hands
            the work to the modules below
domains     Domain, one guest's domain as the backend knows it; Domains, the table
            of them and the xl commands that create, destroy, rebuild and save them
watch       GuestWatch, the checker that finishes what guests did on their own
            (power-off, reboot, crash, suspend) and reports it as guest events
hotplug     hot-plug and unplug of disks and NICs (xl block-*, network-*)
migrate     live migration to another Xen host: xl migrate and migrate-receive,
            committed or abandoned at the switch from the daemon's thread
migrelay    the program that carries xl's migration stream between the hosts (in
            place of ssh): a one-time token, TLS, a bandwidth cap, the held switch
xl          running xl (and xenpm), the listing cache, and parsers of their output
config      the xl configuration built from a DomainSpec, start checks (pure)
xenstore    reading xenstore (pyxs): device dirs, agent version, balloon target,
            and the @releaseDomain watch
console     each guest's console: its pty, named in xenstore, read into a ConsoleHub
counters    metrics: vCPU time and memory from xl, disk and NIC byte counters from
            blkback, qdisk and netback
host        Xen's version, capabilities, CPUs and memory; the device model's path
==========  ========================================================================
"""

from .backend import XenBackend

__all__ = ["XenBackend"]
