"""Counters a bot reads from its own peer connections, through aiortc's public getStats()."""

from __future__ import annotations

from aiortc import RTCPeerConnection


async def rtp_packets_sent(pc: RTCPeerConnection) -> int:
    """RTP packets the connection's senders have sent (first transmissions only: aiortc does
    not count retransmissions), summed over its media sections."""
    report = await pc.getStats()
    return sum(int(stats.packetsSent) for stats in report.values() if stats.type == "outbound-rtp")
