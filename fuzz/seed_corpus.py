#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/: a few valid inputs
of each kind, so that the fuzzer's mutations start from requests that get past the decoder.

The protobuf messages are encoded by hand here (a varint and a length-delimited field are all
they use), which keeps this free of any build: `python3 fuzz/seed_corpus.py`. The files are
named by their content's hash, as libFuzzer names what it adds, so running it twice changes
nothing. The first byte of each input picks the method or parser: keep the lists below in the
order of `RPCS` (src/api/fuzzing.rs) and of the `match` in each target.
"""
import hashlib
import pathlib
import struct

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"

EVENT = "0196f1d2-7c1e-7b8a-9f00-1234567890ab"
RESERVATION = "0196f1d27c1e7b8a9f001234567890ab" + "00112233445566778899aabbccddeeff"
TOKEN = "ab" * 32


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def uint(field, n):
    return varint(field << 3) + varint(n)


def nested(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def timestamp(seconds, nanos=0):
    return uint(1, seconds) + (uint(2, nanos) if nanos else b"")


def row(name, seats):
    return nested(1, name) + uint(2, seats)


def section(code, name, rows):
    return nested(1, code) + nested(2, name) + b"".join(nested(3, r) for r in rows)


# One list per method, in the order of RPCS.
REQUESTS = [
    ("Register", [nested(1, "ann@example.com") + nested(2, "correct horse battery"),
                  nested(1, "Zoë.Müller@Exämple.org") + nested(2, "password")]),
    ("Login", [nested(1, "ann@example.com") + nested(2, "correct horse battery")]),
    ("Logout", [b""]),
    ("DeleteAccount", [b""]),
    ("CreateEvent", [
        nested(1, "Spring concert") + nested(2, timestamp(1_900_000_000))
        + nested(3, row("A", 10)) + nested(3, row("B", 12)),
        nested(1, "Cup final") + nested(2, timestamp(1_900_000_000, 500_000_000))
        + nested(4, section("112", "Block 112", [row("F", 14), row("1", 20)]))
        + nested(4, section("FLOOR", "", [row("A", 100)])),
    ]),
    ("GetEvent", [nested(1, EVENT)]),
    ("ListEvents", [uint(1, 20), uint(1, 5) + nested(2, f"1900000000000.{EVENT}")]),
    ("GetSeatLayout", [nested(1, EVENT)]),
    ("GetSeatStatuses", [nested(1, EVENT)]),
    ("GetSeatMap", [nested(1, EVENT),
                    nested(1, EVENT) + nested(2, "112") + nested(3, "F") + uint(4, 1)
                    + uint(5, 100) + nested(6, "s200")]),
    ("Reserve", [nested(1, EVENT) + nested(2, "A1") + nested(2, "A2") + uint(3, 120),
                 nested(1, EVENT) + nested(2, "112-F-14")]),
    ("Purchase", [nested(1, RESERVATION)]),
    ("Release", [nested(1, RESERVATION)]),
    ("ExtendHold", [nested(1, RESERVATION) + uint(2, 300)]),
    ("WatchSeats", [nested(1, EVENT), nested(1, EVENT) + uint(2, 1)]),
]

# The domain target's parsers, in the order of its `match`.
DOMAIN = [
    ["ann@example.com", "Zoë.Müller@Exämple.org", "  BOB@EXAMPLE.COM "],
    ["correct horse battery"],
    ["correct horse battery", "password"],
    [EVENT],
    [RESERVATION],
    ["A12", "bb7", "112-F-14", "N1-2-9999"],
    ["Spring concert"],
    [f"1900000000000.{EVENT}"],
    [TOKEN],
    ["A:30,B:30", "v2;112|Block%20112|F:14,G:20;FLOOR|FLOOR|A:100"],
    [struct.pack("<I", 120), struct.pack("<I", 0)],
    ["A:10,B:12", "112|Block 112|F:14,1:20\nFLOOR||A:100"],
]


def frame(message, flag=0):
    return bytes([flag]) + struct.pack(">I", len(message)) + message


# The edge target: frames (after a byte that says where to cut), authorization, forwarded-for.
EDGE = [
    [bytes([3]) + frame(nested(1, EVENT)) + frame(b""), bytes([1]) + frame(b"abc", flag=1)],
    [f"Bearer {TOKEN}".encode(), b"bearer  x"],
    [b"203.0.113.7, 10.0.0.2\n198.51.100.1", b"2001:db8::1"],
]


def write(target, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main():
    for i, (_, messages) in enumerate(REQUESTS):
        for message in messages:
            write("requests", bytes([i]) + message)
    for i, inputs in enumerate(DOMAIN):
        for text in inputs:
            data = text if isinstance(text, bytes) else text.encode("utf-8")
            write("domain", bytes([i]) + data)
    for i, inputs in enumerate(EDGE):
        for data in inputs:
            write("edge", bytes([i]) + data)


if __name__ == "__main__":
    main()
