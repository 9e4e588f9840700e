#!/usr/bin/env python3
"""Writes examples/lan-traffic.pcap: LAN traffic through the example gateway
(192.0.2.0/24 on lan0, gateway 192.0.2.1, uplink 198.51.100.1)."""
import struct
import sys


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def ipv4(src, dst, proto, payload, ttl=64):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0, ip4(src), ip4(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def l4(src, dst, proto, seg):
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, proto, len(seg))
    c = csum(pseudo + seg)
    off = 16 if proto == 6 else 6
    return seg[:off] + struct.pack("!H", c) + seg[off + 2:]


def tcp(src, dst, sport, dport, flags=0x02):
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 65535, 0, 0)
    return ipv4(src, dst, 6, l4(src, dst, 6, seg))


def udp(src, dst, sport, dport, data=b"nfjit"):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return ipv4(src, dst, 17, l4(src, dst, 17, seg))


def icmp_echo(src, dst):
    msg = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping"
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    return ipv4(src, dst, 1, msg)


GW_MAC = bytes.fromhex("020000000001")
HOST_MAC = bytes.fromhex("020000000010")


def eth(payload):
    return GW_MAC + HOST_MAC + b"\x08\x00" + payload


packets = [
    tcp("192.0.2.10", "203.0.113.50", 40000, 80),          # LAN to the web: forwarded
    tcp("192.0.2.10", "203.0.113.50", 40000, 80, 0x10),    # same flow, ACK
    udp("192.0.2.10", "192.0.2.1", 5353, 53),              # DNS to the gateway: accepted by lan_in
    icmp_echo("192.0.2.10", "192.0.2.1"),                  # ping the gateway
    tcp("192.0.2.10", "192.0.2.1", 40001, 22),             # SSH from the LAN: not an admin, logged and rejected
    tcp("203.0.113.5", "192.0.2.1", 40002, 22),            # SSH from the admin network: accepted
    udp("192.0.2.10", "192.0.2.1", 5000, 6000),            # no rule: logged, dropped
    tcp("192.0.2.10", "203.0.113.50", 40003, 443, 0x02),   # another forwarded connection
    ipv4("192.0.2.10", "203.0.113.50", 6, b"\x00" * 6),    # truncated TCP header: dropped by the tcp match
]
out = sys.argv[1] if len(sys.argv) > 1 else "examples/lan-traffic.pcap"
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, p in enumerate(packets):
        frame = eth(p)
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
        f.write(frame)
