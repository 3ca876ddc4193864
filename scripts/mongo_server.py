#!/usr/bin/env python3
"""A MongoDB-wire-compatible server for iostack's tests (SecantusDB), presenting itself as the
replica set `rs0` (change streams need one) with a 1 s TTL sweep.

Usage: mongo_server.py --port N --dir DATA_DIR
Prints `ready <port>` once it accepts connections; stops on SIGTERM or SIGINT.
Not for production: use a real MongoDB replica set there.
"""
import argparse
import signal
import sys
import threading

import secantus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()

    server = secantus.SecantusDBServer(
        host="127.0.0.1",
        port=args.port,
        storage_path=args.dir,
        replica_set_name="rs0",
        ttl_sweep_seconds=1.0,
    )
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"ready {args.port}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
