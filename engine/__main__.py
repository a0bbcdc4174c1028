"""Daemon entry: `python -m engine [--home DIR]`.

Holds an exclusive lock on the home so a second engine refuses to start, and
ignores SIGHUP so a dropped terminal leaves it running.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import logging.handlers
import os
import signal
import stat
import sys
from typing import IO

from engine.paths import PRIVATE_DIR, PRIVATE_FILE, Home, HomeError, resolve_home

EXIT_ALREADY_RUNNING = 3
EXIT_BAD_HOME = 4


def close_home(home: Home) -> int:
    """Make every folder of the home 0700 and every file 0600 (homes made before the workbench
    kept them private); how many were changed. Symlinks are left alone."""
    changed = 0
    for root, dirs, files in os.walk(home.data_dir):
        for name, mode in [(d, PRIVATE_DIR) for d in dirs] + [(f, PRIVATE_FILE) for f in files]:
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
                os.chmod(path, mode)
                changed += 1
    return changed


def _setup_logging(home: Home, verbose: bool) -> None:
    handler = logging.handlers.RotatingFileHandler(  # 0600: the umask is set first
        home.log, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def acquire_lock(home: Home) -> IO[str] | None:
    """The home's lock, or None when another live engine holds it."""
    fh = open(home.lock, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description=__doc__)
    parser.add_argument("--home", help="data and runtime dir (default: platform dirs)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.umask(0o077)  # everything the engine writes is the user's alone: folders 0700, files 0600
    home = resolve_home(args.home)
    try:
        home.ensure()
        fixed = close_home(home)
    except HomeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_HOME
    lock = acquire_lock(home)
    if lock is None:
        pid = home.pidfile.read_text().strip() if home.pidfile.exists() else "?"
        print(
            f"an engine is already running for home {home.root} (pid {pid}, socket "
            f"{home.socket}); stop it with `workbench engine stop` first",
            file=sys.stderr,
        )
        return EXIT_ALREADY_RUNNING
    _setup_logging(home, args.verbose)
    if fixed:
        logging.getLogger("engine").info(
            "closed %d files and folders of %s that other users could read", fixed, home.data_dir
        )
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    # OpenMP threads that spin-wait between ops starve each other on a shared machine (a
    # MiniLM step took 5 s instead of 0.8 s beside one busy neighbour); sleeping costs little
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from engine.wiring import Engine  # after the lock: a refused engine loads nothing

    async def run() -> None:
        engine = Engine(home)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, engine.stop)
        await engine.serve()

    try:
        asyncio.run(run())
    except Exception:
        logging.getLogger("engine").exception("engine crashed")
        raise
    finally:
        lock.close()
    os._exit(0)  # worker threads (torch import, lanes) must not hold the exit


if __name__ == "__main__":
    sys.exit(main())
