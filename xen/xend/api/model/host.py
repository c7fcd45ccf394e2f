"""The host: its CPUs, its metrics and its pool."""

from .. import renames
from ..enums import cpu_feature
from ..types import Bool, Float, Int, Map, Ref, Set, String
from .schema import (
                     RO_INS,
                     RO_RUN,
                     RW,
                     Class,
                     Field,
                     Message,
                     Param,
                     Renamed,
                     last_updated_field,
                     name_fields,
                     uuid_field,
)

HOST = Class("host", "a physical host", [
    uuid_field(),
    *name_fields(),
    Field("software_version", Map(String, String), RO_RUN, "version strings"),
    Field("resident_VMs", Set(Ref("VM")), RO_RUN, "list of VMs currently resident on host"),
    Field("host_CPUs", Set(Ref("host_cpu")), RO_RUN, "The physical CPUs on this host"),
    Field("enabled", Bool, RO_RUN, "false while the host refuses new VM starts",
          default=True, extension=True),
    Field("address", String, RO_RUN, "the address the pool's other members reach the "
          "host's TLS listener on (the later API's field; the configuration's "
          "pool_address); \"\" when they cannot", extension=True),
    # xm list
    Field("memory/total", Int, RO_RUN, "bytes of memory of the hypervisor (the later "
          "API's host_metrics.memory_total)", extension=True),
    Field("memory/free", Int, RO_RUN, "bytes of that memory no guest or the control "
          "domain holds (host_metrics.memory_free)", extension=True),
    Field("control_domain/memory", Int, RO_RUN, "bytes of memory of the machine the "
          "daemon runs in: dom0 on Xen, the host itself on QEMU", extension=True),
    Field("control_domain/VCPUs", Int, RO_RUN, "CPUs of the machine the daemon runs in: "
          "dom0's vCPUs on Xen, the host's CPUs on QEMU", extension=True),
    # 1.0: events, session, host facts
    # Constants: never stored, so a host's record reads them as these defaults.
    Field("API_version/major", Int, RO_RUN, "major version number of the API: 1",
          default=1, since="1.0"),
    Field("API_version/minor", Int, RO_RUN, "minor version number of the API: 0, whichever "
          "revision the session speaks", default=0, since="1.0"),
    Field("API_version/vendor", String, RO_RUN, "identification of vendor: xend",
          default="xend", since="1.0"),
    Field("API_version/vendor_implementation", Map(String, String), RO_RUN,
          "details of vendor implementation: the daemon's version and backend", since="1.0"),
    Field("capabilities", Set(String), RO_RUN, "the guest types the hypervisor runs, in "
          "Xen's spelling (hvm-3.0-x86_64, xen-3.0-x86_64, ...)", since="1.0"),
    Field("cpu_configuration", Map(String, String), RO_RUN, "the CPU configuration of the "
          "host: nr_cpus, nr_nodes, sockets_per_node, cores_per_socket, threads_per_core",
          since="1.0"),
    Field("sched_policy", String, RO_RUN, "the scheduler policy in force on the host",
          since="1.0"),
    Field("supported_bootloaders", Set(String), RO_RUN, "the bootloaders installed on the "
          "host", since="1.0"),
    Field("logging", Map(String, String), RW, "logging configuration", since="1.0"),
    Field("other_config", Map(String, String), RW, "additional configuration", since="1.0"),
    Field("suspend_image_sr", Ref("SR"), RW, "the SR in which VDIs for suspend images are "
          "created; null once that SR is deleted", since="1.0"),
    Field("crash_dump_sr", Ref("SR"), RW, "the SR in which VDIs for crash dumps are "
          "created; null once that SR is deleted", since="1.0"),
    # 1.0: metrics
    Field("metrics", Ref("host_metrics"), RO_RUN, "metrics associated with this host",
          since="1.0"),
    # 1.0: host's interfaces, storage and objects
    Field("PIFs", Set(Ref("PIF")), RO_RUN, "physical network interfaces", since="1.0"),
    Field("PBDs", Set(Ref("PBD")), RO_RUN, "physical blockdevices", since="1.0"),
], messages=[
    Message("disable", [Param("host", Ref("host"), "The Host to disable")], None,
            "Puts the host into a state in which no new VMs can be started.", root_only=True),
    Message("enable", [Param("host", Ref("host"), "The Host to enable")], None,
            "Puts the host into a state in which new VMs can be started.", root_only=True),
    Message("shutdown", [Param("host", Ref("host"), "The Host to shutdown")], None,
            "Shutdown the host (only when disabled and no VM runs).", root_only=True),
    Message("reboot", [Param("host", Ref("host"), "The Host to reboot")], None,
            "Reboot the host (only when disabled and no VM runs).", root_only=True),
    # Debugging a guest
    Message("dmesg", [Param("host", Ref("host"), "the host")], String,
            "The hypervisor's log on the host, newest last, at most 64 KiB.",
            root_only=True, extension=True),
    Message("dmesg_clear", [Param("host", Ref("host"), "the host")], String,
            "The hypervisor's log on the host as host.dmesg, and clear it: what it returns "
            "is not returned again.", root_only=True, extension=True),
    # 1.0: events, session, host facts
    Message("list_methods", [], Set(String),
            "Every method name the session may call, sorted", since="1.0"),
    Message("get_log", [Param("host", Ref("host"), "the host")], String,
            "The daemon's own log, newest last, at most 64 KiB (whole lines); empty where "
            "the daemon logs to stderr", root_only=True, extension=True),
    Message("send_debug_keys", [Param("host", Ref("host"), "the host"),
                                Param("keys", String, "the debug keys, e.g. \"q\"")],
            None, "Inject the given string as debugging keys into Xen (xl debug-keys)",
            root_only=True, since="1.0"),
], creatable=False, deletable=False, list_rpc=True, root_writes=True)


HOST_CPU = Class("host_cpu", "a physical CPU", [
    uuid_field(),
    Field("host", Ref("host"), RO_INS, "the host the CPU is in", required=True),
    Field("number", Int, RO_INS, "the number of the physical CPU within the host",
          required=True),
    Field("features", Set(cpu_feature), RO_INS, "the features supported by the CPU",
          rev="0.2"),
    Field("utilisation", Float, RO_RUN, "the current CPU utilisation"),
    # 1.0
    Field("features", String, RO_RUN, "the CPU's features as a bitmap: 32-bit words in "
          "hexadecimal joined by \":\", bit N set for the cpu_feature enumeration's N-th "
          "value", since="1.0", rev="1.0",
          same_as=Renamed(("features",), read=renames.features_to_bitmap)),
    # 1.0: events, session, host facts
    Field("vendor", String, RO_RUN, "the vendor of the physical CPU (cpuinfo's vendor_id)",
          since="1.0"),
    Field("speed", Int, RO_RUN, "the speed of the physical CPU, in MHz", since="1.0"),
    Field("modelname", String, RO_RUN, "the model name of the physical CPU", since="1.0"),
    Field("stepping", String, RO_RUN, "the stepping of the physical CPU", since="1.0"),
    Field("flags", String, RO_RUN, "the flags of the physical CPU, as cpuinfo prints them "
          "(a decoded version of the features field)", since="1.0"),
], creatable=False, deletable=False)


HOST_METRICS = Class("host_metrics", "the metrics associated with a host", [
    uuid_field(),
    Field("memory/total", Int, RO_RUN, "Host's total memory (bytes)",
          same_as=Renamed(("memory_total",))),
    Field("memory/free", Int, RO_RUN, "Host's free memory (bytes)",
          same_as=Renamed(("memory_free",))),
    Field("live", Bool, RO_RUN, "true while the host is alive: always for a host alone; for "
          "a member of a pool, while its lease on the pool's database has not expired (the "
          "later API's)", extension=True),
    last_updated_field(),
], creatable=False, deletable=False, stored=False, owner="host", since="1.0")


# Beyond 1.0 (the later Xen-API's pool): the hosts sharing one store, a view of its
# master's host record (handlers/pool.py).
POOL = Class("pool", "a pool of hosts: the hosts sharing one PostgreSQL database, or a "
             "single host alone; one pool, whichever member is asked", [
    uuid_field(),
    Field("name_label", String, RW, "a name for the pool"),
    Field("name_description", String, RW, "a description of the pool"),
    Field("master", Ref("host"), RO_RUN, "the host that is the pool's master: the one "
          "that made it (a single host: itself)"),
    Field("default_SR", Ref("SR"), RW, "the SR the daemon puts its own VDIs in where none "
          "is named (crash dumps without a crash_dump_SR); null: the SR it made at first "
          "start"),
    Field("suspend_image_SR", Ref("SR"), RW, "the SR in which VDIs for suspend images are "
          "created: the master host's suspend_image_sr",
          same_as=Renamed(("suspend_image_sr",))),
    Field("crash_dump_SR", Ref("SR"), RW, "the SR in which VDIs for crash dumps are "
          "created: the master host's crash_dump_sr", same_as=Renamed(("crash_dump_sr",))),
    Field("other_config", Map(String, String), RW, "additional configuration"),
], messages=[
    Message("join", [Param("master_address", String, "the master's HTTPS address, "
                           "HOST:PORT"),
                     Param("master_username", String, "a user of the master: root"),
                     Param("master_password", String, "that user's password")], None,
            "Make this standalone host a member of the master's pool: its objects (but "
            "its users and control domain) move into the pool's database (pool_database) "
            "in one transaction, then the daemon restarts on it, its guests running.",
            root_only=True),
    Message("eject", [Param("host", Ref("host"), "the host to eject")], None,
            "Take a host with no running guest out of the pool: its records leave the "
            "database and its daemon restarts on a store of its own.", root_only=True),
], creatable=False, deletable=False, stored=False, owner="host", root_writes=True,
   extension=True)
