"""A view-only RFB client: what a client that may only watch a guest's display may send.

A display (console protocol "rfb") is a fresh RFB connection to the guest's VNC server,
and RFB has no view-only mode a server enforces per connection. So for a client that
may not type into the guest, the console proxy passes the client's bytes through
``ViewOnly``, which reads the client-to-server half of RFB (RFC 6143) message by message
and forwards the handshake and the messages that only shape what the client is shown
(pixel format, encodings, update requests, fences, continuous updates), and drops those
that act on the guest: key and pointer events, cut text, desktop resizing, QEMU's
extended key and audio messages, xvp power actions. A message it cannot read ends the
connection (``ValueError``): forwarding bytes it does not understand could forward input.
"""

import struct

# Client message types (RFC 6143 §7.5 and the registered extensions).
SET_PIXEL_FORMAT, SET_ENCODINGS, UPDATE_REQUEST, KEY, POINTER, CUT_TEXT = 0, 2, 3, 4, 5, 6
CONTINUOUS_UPDATES, FENCE, XVP, SET_DESKTOP_SIZE, QEMU = 150, 248, 250, 251, 255

# Messages forwarded: they change what the viewer is sent, never the guest.
FORWARDED = frozenset({SET_PIXEL_FORMAT, SET_ENCODINGS, UPDATE_REQUEST,
                       CONTINUOUS_UPDATES, FENCE})

_VERSION = 12     # "RFB xxx.yyy\n"
_VNC_AUTH = 2     # security type whose response is a 16-byte challenge answer


def _length(buf):
    """The length of the client message at the start of ``buf``, or None until enough
    of it is there to tell; ValueError for a type this filter does not know."""
    kind = buf[0]
    fixed = {SET_PIXEL_FORMAT: 20, UPDATE_REQUEST: 10, KEY: 8, POINTER: 6,
             CONTINUOUS_UPDATES: 10, XVP: 4}.get(kind)
    if fixed is not None:
        return fixed
    if kind == SET_ENCODINGS:     # type, pad, count (u16), count x s32
        return None if len(buf) < 4 else 4 + 4 * struct.unpack_from(">H", buf, 2)[0]
    if kind == CUT_TEXT:          # type, 3 pad, length (s32; negative: extended form)
        return None if len(buf) < 8 else 8 + abs(struct.unpack_from(">i", buf, 4)[0])
    if kind == FENCE:             # type, 3 pad, flags (u32), length (u8), payload
        return None if len(buf) < 9 else 9 + buf[8]
    if kind == SET_DESKTOP_SIZE:  # type, pad, w, h (u16), screens (u8), pad, 16 each
        return None if len(buf) < 8 else 8 + 16 * buf[6]
    if kind == QEMU:              # type, submessage, then by submessage
        if len(buf) < 2:
            return None
        if buf[1] == 0:           # extended key event
            return 12
        if buf[1] == 1:           # audio: operation (u16), format adds 6 bytes
            return None if len(buf) < 4 else (10 if struct.unpack_from(">H", buf, 2)[0] == 2
                                                 else 4)
    raise ValueError("RFB client message of type %d is not known" % kind)


class ViewOnly:
    """The client-to-server half of one RFB connection, with input removed; ``feed``
    the client's bytes as they come and forward what it returns."""

    def __init__(self):
        self.buf = bytearray()
        # What comes next: the version, the security type chosen, a VNC-auth response,
        # the ClientInit flag, then messages.
        self.stage = "version"

    def feed(self, data):
        """The part of ``data`` (and what was held back before) to forward to the server:
        whole messages only; a partial one waits for its rest."""
        self.buf += data
        out = bytearray()
        while self.buf:
            n = self._next_length()
            if n is None or len(self.buf) < n:
                break
            if self.stage != "messages" or self.buf[0] in FORWARDED:
                out += self.buf[:n]
            self._advance(bytes(self.buf[:n]))
            del self.buf[:n]
        return bytes(out)

    def _next_length(self):
        if self.stage == "version":
            return _VERSION
        if self.stage in ("security", "init"):
            return 1
        if self.stage == "auth":
            return 16
        return _length(self.buf)

    def _advance(self, piece):
        if self.stage == "version":
            # In 3.3 the server picks the security type and the client answers it
            # unannounced: the filter, seeing only the client's half, could not tell
            # an authentication response from messages.
            if piece[:4] != b"RFB " or piece < b"RFB 003.007\n":
                raise ValueError("a view-only display needs RFB 3.7 or later")
            self.stage = "security"
        elif self.stage == "security":
            self.stage = "auth" if piece[0] == _VNC_AUTH else "init"
        elif self.stage == "auth":
            self.stage = "init"
        elif self.stage == "init":
            self.stage = "messages"
