"""transport/rfb.py: a view-only viewer's bytes, with its input removed."""

import struct

import pytest

from xen.xend.transport.rfb import ViewOnly

HANDSHAKE = b"RFB 003.008\n" + b"\x01" + b"\x01"   # version, security None, ClientInit

PIXEL_FORMAT = bytes([0, 0, 0, 0]) + bytes(16)
ENCODINGS = struct.pack(">BBHii", 2, 0, 2, 0, -223)
UPDATE = struct.pack(">BBHHHH", 3, 1, 0, 0, 640, 480)
FENCE = struct.pack(">BxxxIB", 248, 0, 3) + b"abc"
CONTINUOUS = struct.pack(">BBHHHH", 150, 1, 0, 0, 640, 480)

KEY = struct.pack(">BBxxI", 4, 1, 0x61)
POINTER = struct.pack(">BBHH", 5, 1, 10, 10)
CUT = struct.pack(">BxxxI", 6, 5) + b"hello"
EXTENDED_CUT = struct.pack(">Bxxxi", 6, -8) + bytes(8)
DESKTOP = struct.pack(">BxHHBx", 251, 800, 600, 1) + bytes(16)
QEMU_KEY = struct.pack(">BBHII", 255, 0, 1, 0x61, 0x1e)
QEMU_AUDIO_FORMAT = struct.pack(">BBHBBI", 255, 1, 2, 0, 2, 44100)
QEMU_AUDIO_ON = struct.pack(">BBH", 255, 1, 0)
XVP = struct.pack(">BxBB", 250, 1, 4)   # xvp reset

SHOWN = PIXEL_FORMAT + ENCODINGS + UPDATE + FENCE + CONTINUOUS
INPUT = KEY + POINTER + CUT + EXTENDED_CUT + DESKTOP + QEMU_KEY + QEMU_AUDIO_FORMAT + \
    QEMU_AUDIO_ON + XVP


def test_the_handshake_and_what_shapes_the_view_pass_and_input_is_dropped():
    f = ViewOnly()
    assert f.feed(HANDSHAKE + KEY + SHOWN + INPUT + UPDATE) == HANDSHAKE + SHOWN + UPDATE


def test_messages_cut_anywhere_come_out_whole_and_the_same():
    stream = HANDSHAKE + PIXEL_FORMAT + POINTER + ENCODINGS + KEY + FENCE + CUT + UPDATE
    f = ViewOnly()
    out = b"".join(f.feed(stream[i:i + 1]) for i in range(len(stream)))
    assert out == HANDSHAKE + PIXEL_FORMAT + ENCODINGS + FENCE + UPDATE
    assert f.feed(b"") == b""


def test_a_vnc_authentication_response_passes_before_the_messages():
    answer = bytes(range(16))
    f = ViewOnly()
    assert f.feed(b"RFB 003.008\n\x02" + answer + b"\x00" + KEY + UPDATE) == \
        b"RFB 003.008\n\x02" + answer + b"\x00" + UPDATE


@pytest.mark.parametrize("stream", [
    HANDSHAKE + b"\x07" + bytes(20),             # a message type nobody registered
    HANDSHAKE + struct.pack(">BB", 255, 9),      # a QEMU submessage this filter cannot size
    b"RFB 003.003\n\x01",                        # 3.3: the client's half cannot be followed
    b"GET / HTTP/1.1\r\n",                       # not RFB at all
])
def test_what_it_cannot_read_ends_the_stream(stream):
    with pytest.raises(ValueError):
        ViewOnly().feed(stream)
