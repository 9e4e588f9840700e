#!/usr/bin/env python3
"""Writes the packet-pipeline fuzzer's seed inputs (tests/fuzz/pipeline-seeds/):
short conversations through the fuzzer's rulesets (NAT both ways, local
services, REJECT, ICMP errors, fragments, IPv6 extension headers), in the
input format of packet_pipeline_fuzz.cpp. Run it after changing a seed."""
import os
import struct

IN0, OUT0, LO, LOCAL = 0, 1, 2, 3


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def l4(proto, src, dst, sport, dport, payload=b"", flags=0x02, opts=b"", icmp=None):
    if proto == 6:
        hdr = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, (5 + len(opts) // 4) << 4, flags, 64240, 0, 0) + opts
        body = hdr + payload
        ck_at = 16
    elif proto == 17:
        body = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        ck_at = 6
    else:  # ICMP / ICMPv6: icmp = (type, code, rest-of-header)
        t, c, rest = icmp
        body = struct.pack("!BBH", t, c, 0) + rest + payload
        ck_at = 2
    if proto == 1:
        pseudo = b""
    elif len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(body))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(body), proto)
    ck = csum(pseudo + body)
    return body[:ck_at] + struct.pack("!H", ck) + body[ck_at + 2:]


def v4(src, dst, proto, body, ttl=64, frag=0, tos=0, ident=1):
    s, d = ip4(src), ip4(dst)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(body), ident, frag, ttl, proto, 0, s, d)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + body


def tcp4(src, dst, sport, dport, flags=0x02, opts=b"", payload=b""):
    return v4(src, dst, 6, l4(6, ip4(src), ip4(dst), sport, dport, payload, flags, opts))


def udp4(src, dst, sport, dport, payload=b"x"):
    return v4(src, dst, 17, l4(17, ip4(src), ip4(dst), sport, dport, payload))


def icmp4(src, dst, t, c, rest=b"\0\x01\0\x01", payload=b"ping"):
    return v4(src, dst, 1, l4(1, b"", b"", 0, 0, payload, icmp=(t, c, rest)))


def v6(src, dst, nh, body, hl=64, ext=b""):
    return struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(body), nh, hl, ip6(src), ip6(dst)) + ext + body


def tcp6(src, dst, sport, dport, flags=0x02, opts=b"", ext=b"", first=6):
    return v6(src, dst, first, l4(6, ip6(src), ip6(dst), sport, dport, b"", flags, opts), ext=ext)


def udp6(src, dst, sport, dport, payload=b"x", ext=b"", first=17):
    return v6(src, dst, first, l4(17, ip6(src), ip6(dst), sport, dport, payload), ext=ext)


def icmp6(src, dst, t, c, rest=b"\0\x01\0\x01", payload=b"ping"):
    return v6(src, dst, 58, l4(58, ip6(src), ip6(dst), 0, 0, payload, icmp=(t, c, rest)))


def record(packet, arrival, pkttype=0, tenths=1):
    return struct.pack("!HB", len(packet), arrival | pkttype << 2 | tenths << 4) + packet


MSS = b"\x02\x04\x05\xb4"
TS = b"\x01\x01\x08\x0a" + b"\0\0\0\1\0\0\0\0"

SEEDS = {
    "v4-dnat-conversation": (0, [
        record(tcp4("198.51.100.20", "203.0.113.2", 40000, 80, 0x02, MSS), OUT0),
        record(tcp4("192.0.2.80", "198.51.100.20", 8080, 40000, 0x12, MSS), IN0),
        record(tcp4("198.51.100.20", "203.0.113.2", 40000, 80, 0x10), OUT0),
        record(tcp4("198.51.100.20", "203.0.113.2", 40000, 80, 0x11), OUT0, tenths=15),
    ]),
    "v4-masquerade-udp": (0, [
        record(udp4("192.0.2.50", "198.51.100.53", 5353, 53), IN0),
        record(udp4("198.51.100.53", "203.0.113.2", 53, 5353, b"y" * 600), OUT0),
        record(icmp4("198.51.100.53", "203.0.113.2", 3, 3, b"\0\0\0\0",
                     udp4("203.0.113.2", "198.51.100.53", 5353, 53)), OUT0),
    ]),
    "v4-local-services": (0, [
        record(icmp4("192.0.2.10", "192.0.2.1", 8, 0), IN0, tenths=0),
        record(icmp4("192.0.2.10", "192.0.2.1", 8, 0), IN0, tenths=0),
        record(icmp4("192.0.2.10", "192.0.2.1", 8, 0), IN0, tenths=0),
        record(icmp4("192.0.2.10", "192.0.2.1", 8, 0), IN0, tenths=0),
        record(tcp4("192.0.2.10", "192.0.2.1", 50000, 22, 0x02, MSS + b"\x01\x01" + TS[2:]), IN0),
        record(tcp4("192.0.2.10", "192.0.2.1", 50000, 443, 0x10), IN0),
        record(udp4("192.0.2.150", "192.0.2.1", 1234, 9999, b"GET /index.html"), IN0),
        record(udp4("192.0.2.10", "192.0.2.255", 68, 67), IN0, pkttype=1),
        record(tcp4("192.0.2.1", "192.0.2.10", 22, 50000, 0x12), LOCAL),
        record(tcp4("192.0.2.1", "203.0.113.7", 40001, 80, 0x02), LOCAL),
    ]),
    "v4-range-ends": (0, [
        record(udp4("198.51.100.20", "203.0.113.2", 1000 + p, p, b"z" * n), OUT0, tenths=0)
        for p, n in ((4999, 35), (5000, 36), (5010, 37), (5011, 38))
    ] + [record(tcp4("192.0.2.10", "192.0.2.1", s, d, 0x10), IN0, tenths=0)
         for s, d in ((1023, 999), (1024, 1000), (65535, 2000), (1024, 2001))]),
    "v4-odd-headers": (0, [
        record(v4("198.51.100.9", "192.0.2.1", 6, tcp4("1.1.1.1", "1.1.1.1", 1, 2)[20:28], frag=0x2000), OUT0),
        record(v4("198.51.100.9", "192.0.2.1", 17, b"\0" * 16, frag=0x0003), OUT0),
        record(tcp4("198.51.100.9", "192.0.2.1", 1, 2, 0x29), OUT0),
        record(v4("198.51.100.9", "192.0.2.77", 17, udp4("1.1.1.1", "1.1.1.1", 5, 5)[20:], ttl=1, tos=0xb8), OUT0),
        record(v4("198.51.100.9", "192.0.2.1", 132, b"\0\x09\0\x09" + b"\0" * 12), OUT0),
        record(tcp4("198.51.100.7", "203.0.113.130", 1, 9, 0x02), OUT0),
    ]),
    "v6-dnat-conversation": (1, [
        record(tcp6("2001:db8:9::20", "2001:db8:2::2", 40000, 80, 0x02, MSS), OUT0),
        record(tcp6("2001:db8::80", "2001:db8:9::20", 8080, 40000, 0x12, MSS), IN0),
        record(tcp6("2001:db8:9::20", "2001:db8:2::2", 40000, 80, 0x10), OUT0),
        record(udp6("2001:db8::50", "2001:db8:9::53", 5353, 53), IN0),
        record(udp6("2001:db8:9::53", "2001:db8:2::2", 53, 5353), OUT0),
    ]),
    "v6-extension-headers": (1, [
        record(icmp6("2001:db8::10", "2001:db8::1", 128, 0), IN0, tenths=0),
        record(icmp6("2001:db8::10", "2001:db8::1", 128, 0), IN0, tenths=0),
        record(udp6("2001:db8::10", "2001:db8::1", 1, 9, ext=b"\x11\0\x01\x04\0\0\0\0", first=0), IN0),
        record(udp6("2001:db8::10", "2001:db8::1", 1, 9, ext=b"\x11\0\0\x01\0\0\0\x05", first=44), IN0),
        record(udp6("2001:db8::10", "2001:db8::1", 1, 9, ext=b"\x11\0\0\x01\0\0\0\x05"[:4] + b"\0\0\0\x05", first=44), IN0),
        record(tcp6("2001:db8::10", "2001:db8::1", 1, 9, ext=b"\x06\x02\0\x02" + b"\0" * 20, first=43), IN0),
        record(udp6("2001:db8::100:5", "2001:db8::1", 7, 7, b"GET /"), IN0),
        record(tcp6("2001:db8::1", "2001:db8::10", 22, 40000, 0x12), LOCAL),
        record(icmp6("2001:db8::10", "ff02::1", 135, 0, b"\0" * 4, ip6("2001:db8::1")), IN0, pkttype=2),
    ]),
}

if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pipeline-seeds")
    os.makedirs(out, exist_ok=True)
    for name, (family, records) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([family]) + b"".join(records))
