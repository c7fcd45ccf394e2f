"""The domains of this daemon's guests, and the xl commands that make and unmake them.

A ``Domain`` is what the backend knows of one guest's domain; ``Domains`` is the
table of them, by VM uuid, with the operations every power change is made of:
create (or restore), destroy, rebuild from the configuration, save, forget, and
ask the guest to shut down and wait for it. An operation of ours marks the domain
``expected`` while it takes the domain down, so that the checker (watch.py) leaves
that shutdown to it.
"""

import os
import threading
import time

from xen.xend.util.files import unlink_if_exists

from ..base import BackendError
from ..common import running_guest
from .console import tty_node
from .xl import SAVE_TIMEOUT, power_state

CONFIG_FILE = "xl.cfg"
POLL_INTERVAL = 0.5         # how often an operation waiting for a shutdown looks

# What xl says when the guest did not take up the suspend request: libxl's own words
# when it gave up waiting for the guest's acknowledgement (a kernel still booting, or
# one without a suspend handler) or for the suspend itself, and libxc's when the domain
# was found not suspended (a paused guest). xl then resumes the domain, unchanged.
UNANSWERED_SUSPEND = ("didn't acknowledge suspend", "did not suspend", " not suspended: ")


class Domain:
    """What the backend knows of one guest's domain."""

    def __init__(self, uuid, name, state_dir, domid, disks=None, nics=None, tty_node=None):
        self.uuid = uuid
        self.name = name
        self.state_dir = state_dir
        self.domid = domid
        self.disks = dict(disks or {})     # VBD uuid -> vdev
        self.nics = dict(nics or {})       # VIF uuid -> MAC
        # The xenstore node naming the console's pty (console.tty_node; None: none).
        self.tty_node = tty_node
        # Serialises the xl commands that change this domain.
        self.lock = threading.RLock()
        # Set while an operation of ours is taking the domain down: the checker
        # leaves a shutdown it sees then to that operation.
        self.expected = False
        self.handling = False
        # Set once a crash or suspend the guest did has been reported: the domain
        # stays, shut down, for the actions to deal with; it is not news again.
        self.kept = False

    @classmethod
    def of_spec(cls, spec, name):
        """A domain, not yet created, for the guest of DomainSpec ``spec``."""
        return cls(spec.uuid, name, spec.state_dir, None,
                   {d.vbd: d.device for d in spec.disks},
                   {n.vif: n.mac for n in spec.nics}, tty_node(spec.vm))

    @property
    def config(self):
        """The path of the domain's xl configuration file, in its state dir."""
        return os.path.join(self.state_dir, CONFIG_FILE)

    def private(self):
        """The JSON-serialisable state reattach() needs to know the domain again."""
        return {"name": self.name, "state_dir": self.state_dir, "domid": self.domid,
                "disks": dict(self.disks), "nics": dict(self.nics),
                "tty_node": self.tty_node}


class Domains:
    """This daemon's domains by VM uuid, made and unmade with the Xl runner ``xl``.

    ``on_created(dom)`` is called when ``dom`` has been created or restored, still
    paused; ``on_ended(uuid)`` when VM ``uuid``'s guest has ended (not for the domain a
    rebuild replaces: the guest goes on in the new one)."""

    def __init__(self, xl, on_created, on_ended):
        self._xl = xl
        self._on_created = on_created
        self._on_ended = on_ended
        self._by_uuid = {}
        self._lock = threading.Lock()

    def get(self, uuid):
        """The domain of VM ``uuid``, or None."""
        return self._by_uuid.get(uuid)

    def running(self, uuid, expected):
        """The domain of VM ``uuid``; VM_BAD_POWER_STATE [uuid, expected, Halted]
        when there is none."""
        return running_guest(self._by_uuid, uuid, expected)

    def all(self):
        """A copy of the table: {VM uuid: Domain}."""
        with self._lock:
            return dict(self._by_uuid)

    def holds(self, dom):
        """Whether ``dom`` is still the domain recorded for its VM."""
        return self._by_uuid.get(dom.uuid) is dom

    def add(self, dom):
        """Record ``dom`` (a domain found again) as its VM's."""
        with self._lock:
            self._by_uuid[dom.uuid] = dom

    def create(self, dom, args):
        """Run ``xl create -p``/``restore -p`` (``args``: the domain is made paused) for
        ``dom`` and record its domid; on failure no domain of that uuid is left behind."""
        dom.expected = True
        try:
            self._xl.run(*args)
            entry = self._xl.list(max_age=0).get(dom.uuid)
            if entry is None:
                raise BackendError("INTERNAL_ERROR", "xl %s left no domain" % args[0])
        except BackendError:
            leftover = self._xl.list(max_age=0).get(dom.uuid)
            if leftover is not None:
                self._xl.run("destroy", str(leftover["domid"]))
            raise
        self.adopt(dom, entry)

    def adopt(self, dom, entry):
        """Record ``dom`` as the domain of ``xl list``'s ``entry`` (one just created,
        restored or received) and call ``on_created``."""
        dom.domid, dom.name = entry["domid"], entry["name"]
        dom.kept = False
        self.add(dom)
        self._on_created(dom)
        dom.expected = False

    def destroy(self, dom, ended=True):
        """``xl destroy`` the domain (tolerating one already gone) and forget it
        (``ended``: see forget)."""
        dom.expected = True
        if dom.uuid in self._xl.list(max_age=0):
            try:
                self._xl.run("destroy", str(dom.domid))
            except BackendError:
                if dom.uuid in self._xl.list(max_age=0):
                    dom.expected = False
                    raise
        self.forget(dom, ended)

    def rebuild(self, dom):
        """Destroy the domain and create it again, running, from its configuration."""
        self.destroy(dom, ended=False)
        try:
            self.create(dom, ["create", "-p", dom.config])
        except BackendError:
            self._on_ended(dom.uuid)
            raise
        self._xl.run("unpause", str(dom.domid))

    def save(self, dom, state_file):
        """``xl save`` the domain into ``state_file`` (xl destroys it once saved) and
        forget it; on failure the domain stays and no state file is left.
        VM_FAILED_SUSPEND_ACK when the guest did not answer the suspend request."""
        dom.expected = True
        with dom.lock:
            try:
                self._xl.run("save", str(dom.domid), state_file, timeout=SAVE_TIMEOUT)
            except BackendError as e:
                dom.expected = False
                unlink_if_exists(state_file)
                if any(text in getattr(e, "stderr", "") for text in UNANSWERED_SUSPEND):
                    raise BackendError("VM_FAILED_SUSPEND_ACK", dom.uuid) from None
                raise
            self.forget(dom)

    def forget(self, dom, ended=True):
        """Drop ``dom`` from the table (it is gone, or no longer ours to watch); with
        ``ended``, its guest has ended."""
        with self._lock:
            if self._by_uuid.get(dom.uuid) is dom:
                del self._by_uuid[dom.uuid]
        self._xl.forget_listing()
        if ended:
            self._on_ended(dom.uuid)

    def ask_and_wait(self, dom, command, timeout, on_give_up):
        """Send a shutdown/reboot request (xl ``command``) and wait until the domain has
        shut down (or gone: a hard_shutdown may overtake us). VM_SHUTDOWN_TIMEOUT
        otherwise, after calling ``on_give_up()``: a shutdown that comes later is
        then the guest's own, for the checker."""
        dom.expected = True
        try:
            with dom.lock:
                self._xl.run(*command, str(dom.domid))
            deadline = time.monotonic() + float(timeout)
            while True:
                entry = self._xl.list(max_age=0).get(dom.uuid)
                if entry is None or entry["domid"] != dom.domid or \
                        power_state(entry) is None:
                    return
                if time.monotonic() >= deadline:
                    raise BackendError("VM_SHUTDOWN_TIMEOUT", dom.uuid, timeout)
                time.sleep(POLL_INTERVAL)
        except BackendError:
            dom.expected = False
            on_give_up()
            raise
