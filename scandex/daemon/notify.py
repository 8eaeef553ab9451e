"""systemd's notify protocol (sd_notify) over $NOTIFY_SOCKET, with the socket module only.

Outside systemd (no $NOTIFY_SOCKET) every call is a cheap no-op.
"""

from __future__ import annotations

import os
import socket
import time


def sd_notify(message: str, socket_path: str | None = None) -> bool:
    """Send one notification datagram; False when there is no socket or sending failed."""
    address = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never block: a receiver that stops reading must not stall the daemon's loop.
            sock.setblocking(False)
            sock.connect(address)
            sock.send(message.encode("utf-8", "replace"))
    except OSError:  # including BlockingIOError when the receiver's queue is full
        return False
    return True


def watchdog_interval_seconds() -> float | None:
    """How often to ping systemd's watchdog (half of WatchdogSec), or None when it is off."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):  # meant for another process
        return None
    return int(usec) / 2e6


class Notifier:
    """READY, RELOADING, STATUS, WATCHDOG and STOPPING for the daemon's main loop."""

    def __init__(self) -> None:
        self.socket_path = os.environ.get("NOTIFY_SOCKET", "")
        self.watchdog_seconds = watchdog_interval_seconds()
        self._last_ping = 0.0
        self._last_status = ""

    def ready(self, status: str) -> None:
        self._last_status = status
        sd_notify(f"READY=1\nSTATUS={status}", self.socket_path)

    def status(self, status: str) -> None:
        if status != self._last_status:
            self._last_status = status
            sd_notify(f"STATUS={status}", self.socket_path)

    def alive(self) -> None:
        """Called from each turn of the main loop: a loop that stops turning gets restarted."""
        if self.watchdog_seconds is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_seconds:
            self._last_ping = now
            sd_notify("WATCHDOG=1", self.socket_path)

    def reloading(self) -> None:
        """A reload began (SIGHUP); `ready` says when it is over, as systemd expects."""
        self._last_status = "reloading"
        stamp = time.monotonic_ns() // 1000  # CLOCK_MONOTONIC, as systemd wants it
        sd_notify(f"RELOADING=1\nMONOTONIC_USEC={stamp}\nSTATUS=reloading", self.socket_path)

    def stopping(self) -> None:
        sd_notify("STOPPING=1\nSTATUS=stopping", self.socket_path)
