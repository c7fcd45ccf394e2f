"""Storage: repositories (SR), disks (VDI), guests' block devices (VBD), the host's
attachments (PBD), and their metrics."""

from .. import renames
from ..enums import driver_type, vbd_mode, vbd_type, vdi_type
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
                     device_fields,
                     device_messages,
                     io_fields,
                     last_updated_field,
                     name_fields,
                     uuid_field,
)

SR = Class("SR", "a storage repository", [
    uuid_field(),
    *name_fields(),
    Field("VDIs", Set(Ref("VDI")), RW, "managed virtual disks"),
    Field("virtual_allocation", Int, RO_RUN,
          "sum of virtual_sizes of all VDIs in this storage repository (in bytes)"),
    Field("physical_utilisation", Int, RO_RUN,
          "physical space currently utilised on this storage repository (in bytes)"),
    Field("physical_size", Int, RO_INS, "total physical size of the repository (in bytes)"),
    Field("type", String, RO_INS, "type of the storage repository", default="dir",
          rev="0.2"),
    Field("location", String, RO_INS,
          "a string that uniquely determines the location of the storage repository"),
    # 1.0: storage and network records
    Field("content_type", String, RO_INS, "the type of the SR's content: \"iso\" for an SR "
          "of CD-ROM images (type iso), \"\" otherwise", since="1.0"),
    # 1.0: the SR type
    Field("type", String, RO_INS, "type of the storage repository: \"local\" for a dir SR "
          "(xend 3.1's local file SR, where 1.0 clients look for their default SR)",
          since="1.0", rev="1.0",
          same_as=Renamed(("type",), read=renames.dir_to_local, write=renames.local_to_dir)),
    # 1.0: host's interfaces, storage and objects
    Field("PBDs", Set(Ref("PBD")), RO_RUN, "the PBDs through which hosts reach the SR: "
          "its host's for a local SR, one per host of the pool for a shared one",
          since="1.0"),
    Field("shared", Bool, RO_RUN, "true if every host of the pool reaches this SR (types "
          "shared-dir and nfs); false for the types of one host's own storage",
          since="1.0"),
    Field("device_config", Map(String, String), RO_INS, "what SR.create gives the SR "
          "type's driver: for type nfs, server (the NFS server) and serverpath (its "
          "export); no other type takes any", extension=True),
], messages=[
    Message("clone", [Param("sr", Ref("SR"), "The Storage Repository to clone"),
                      Param("loc", String, "where the new storage repository will be located"),
                      Param("name", String, "The name of the new storage repository")],
            Ref("SR"), "Take an exact copy of the Storage Repository"),
    # Existing images
    Message("introduce", [Param("type", String, "image (raw and qcow2 images), iso (a "
                                "read-only ISO library) or block (block devices; root only)"),
                          Param("location", String, "the existing directory that holds them"),
                          Param("name_label", String, "the new SR's name")],
            Ref("SR"), "Adopt an existing directory as an SR; its files stay the "
            "administrator's (users other than root: only under the path roots)",
            extension=True),
    Message("scan", [Param("sr", Ref("SR"), "the SR to scan")], None,
            "Make VDIs for the SR's images that have none, and forget the VDIs whose file "
            "is gone (never one a VM has attached)", extension=True),
    Message("forget", [Param("sr", Ref("SR"), "the SR to forget")], None,
            "Drop the records of the SR and its VDIs, leaving every file in place "
            "(refused while a VBD refers to one of its VDIs)", root_only=True, extension=True),
    # 1.0: storage and network records
    Message("get_supported_types", [], Set(String),
            "The SR types this host can make (SR.create's, and SR.introduce's)", since="1.0"),
], list_rpc=True, root_writes=True)


VDI = Class("VDI", "a virtual disk image", [
    uuid_field(),
    *name_fields(),
    Field("SR", Ref("SR"), RW, "storage repository in which the VDI resides", required=True),
    Field("VBDs", Set(Ref("VBD")), RW, "list of vbds that refer to this disk"),
    Field("virtual_size", Int, RW,
          "size of disk as presented to the guest (in multiples of sector_size field)",
          required=True,
          on_set="grows the disk image (never shrinks it; not while a resident VM uses it)",
          rev="0.2"),
    Field("physical_utilisation", Int, RO_RUN,
          "amount of physical space that the disk image is currently taking up on the storage "
          "repository (in bytes)"),
    Field("sector_size", Int, RO_INS, "sector size of VDI (in bytes)", default=512),
    Field("type", vdi_type, RO_INS, "type of the VDI", default="user"),
    Field("parent", Ref("VDI"), RO_INS, "parent disk (e.g. in the case of copy on write)"),
    Field("children", Set(Ref("VDI")), RO_INS,
          "child disks (e.g. in the case of copy on write)"),
    Field("sharable", Bool, RW, "true if this disk may be shared"),
    Field("read_only", Bool, RW, "true if this disk may ONLY be mounted read-only"),
    # Existing images
    Field("location", String, RO_RUN, "the image file or block device the VDI is",
          extension=True),
    Field("managed", Bool, RO_RUN, "true if the daemon made the image (VDI.delete removes "
          "it); false for an adopted one, whose file is the administrator's", extension=True),
    # 1.0
    Field("virtual_size", Int, RW,
          "size of disk as presented to the guest (in bytes; a whole number of sectors: "
          "a size between two is rounded up)", required=True, since="1.0", rev="1.0",
          same_as=Renamed(("virtual_size", "sector_size"), read=renames.sectors_to_bytes,
                          write=renames.bytes_to_sectors)),
    # 1.0: storage and network records
    Field("other_config", Map(String, String), RW, "additional configuration", since="1.0"),
    # 1.0: host's interfaces, storage and objects
    Field("crash_dumps", Set(Ref("crashdump")), RO_RUN, "list of crash dumps that refer "
          "to this disk", since="1.0"),
], messages=[
    Message("snapshot", [Param("vdi", Ref("VDI"), "The VDI to snapshot")], Ref("VDI"),
            "Take an exact copy of the VDI; the snapshot lives in the same SR as its parent"),
    # Existing images
    Message("introduce", [Param("sr", Ref("SR"), "an SR made by SR.introduce"),
                          Param("location", String, "an existing image file or block device "
                                "directly in the SR's directory")],
            Ref("VDI"), "Adopt an existing image as a VDI that is that file (no copy)",
            extension=True),
    Message("forget", [Param("vdi", Ref("VDI"), "the VDI to forget")], None,
            "Drop the VDI's record, leaving its file in place (refused while a VBD refers "
            "to it)", extension=True),
])

VBD = Class("VBD", "a virtual block device", [
    uuid_field(),
    Field("VM", Ref("VM"), RW, "the virtual machine", required=True),
    Field("VDI", Ref("VDI"), RW, "the virtual disk", required=True),
    Field("device", String, RW, "device seen by the guest e.g. hda1"),
    Field("mode", vbd_mode, RW, "the mode the disk should be mounted with", default="RW"),
    Field("driver", driver_type, RW, "the style of driver", default="paravirtualised"),
    Field("IO_bandwidth/incoming_kbs", Float, RO_RUN, "Read bandwidth (Kb/s)"),
    Field("IO_bandwidth/outgoing_kbs", Float, RO_RUN, "Write bandwidth (Kb/s)"),
    # 1.0: devices
    Field("bootable", Bool, RW, "true if the guest boots from this VBD: it comes first in "
          "the boot order", since="1.0"),
    Field("type", vbd_type, RW, "how the VBD appears to the guest: a disk, or a CD-ROM "
          "drive (a VDI of an iso SR is always in one)", default="Disk", since="1.0"),
    *device_fields("VBD"),
    # 1.0: metrics
    Field("metrics", Ref("VBD_metrics"), RO_RUN, "metrics associated with this VBD",
          since="1.0"),
    Field("io/read_kbs", Float, RO_RUN, "xend 3.1's name of VBD_metrics.io_read_kbs: "
          "KiB/s the guest read", extension=True,
          same_as=Renamed(("IO_bandwidth_incoming_kbs",))),
    Field("io/write_kbs", Float, RO_RUN, "xend 3.1's name of VBD_metrics.io_write_kbs: "
          "KiB/s the guest wrote", extension=True,
          same_as=Renamed(("IO_bandwidth_outgoing_kbs",))),
], messages=[
    # 1.0: devices
    *device_messages("VBD"),
    Message("media_change", [Param("vbd", Ref("VBD"), "the CD VBD"),
                             Param("vdi", Ref("VDI"), "the new medium")], None,
            "Put another medium (VDI) in a CD VBD's drive; live in a resident guest. A "
            "disk is changed by deleting its VBD and making another", since="1.0"),
])


VBD_METRICS = Class("VBD_metrics", "the metrics associated with a virtual block device", [
    uuid_field(),
    *io_fields("IO_bandwidth_incoming_kbs", "IO_bandwidth_outgoing_kbs"),
    last_updated_field(),
], creatable=False, deletable=False, stored=False, owner="VBD", since="1.0")


# 1.0: PBD, how a host reaches an SR (one per SR and host reaching it: a view of the
# SR's record, handlers/pbd.py).
PBD = Class("PBD", "the physical block device through which a host reaches an SR", [
    uuid_field(),
    Field("host", Ref("host"), RO_INS, "physical machine on which the pbd is available: "
          "the host a local SR is local to, or one host of the pool for a shared SR"),
    Field("SR", Ref("SR"), RO_INS, "the storage repository that the pbd realises"),
    Field("device_config", Map(String, String), RO_INS, "what the host's SR driver is "
          "given: location (the SR's), and the SR type's own keys (format: the image "
          "format; adopted, read_only: \"true\" where so; server, serverpath: an nfs "
          "SR's)"),
    Field("currently_attached", Bool, RO_RUN, "is the SR currently attached on this host? "
          "(a local SR always; a shared SR once that host's daemon has attached it: at "
          "its start, or when it made the SR)"),
], creatable=False, deletable=False, stored=False, owner="SR", since="1.0")
