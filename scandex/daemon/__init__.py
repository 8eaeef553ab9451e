"""The watch-folder daemon: events, filters, state store, workers, sd_notify, and run()."""

from scandex.daemon.service import Daemon, run

__all__ = ["Daemon", "run"]
