"""Runs a program against a redis-server of its own: starts one on a free loopback port, appends
redis://127.0.0.1:PORT/DB to the program's arguments, and kills the server when the program ends
(or after TIMEOUT_S). Exit status: the program's.

    with_redis.py [--db N] [--requirepass PW] PROGRAM [ARGS...]
"""
import os
import socket
import subprocess
import sys
import time

TIMEOUT_S = 170


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port, password):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if password:
                s.sendall(b"AUTH %s\r\n" % password.encode())
                s.recv(64)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def main(argv):
    db, password = 0, ""
    while argv and argv[0].startswith("--"):
        if argv[0] == "--db":
            db, argv = int(argv[1]), argv[2:]
        elif argv[0] == "--requirepass":
            password, argv = argv[1], argv[2:]
        else:
            sys.exit("with_redis.py: unknown option " + argv[0])
    if not argv:
        sys.exit(__doc__)
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no"]
    if password:
        cmd += ["--requirepass", password]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not ping(port, password):
            if server.poll() is not None or time.monotonic() > deadline:
                print("with_redis.py: redis-server did not start", file=sys.stderr)
                return 1
            time.sleep(0.05)
        auth = ":%s@" % password if password else ""
        url = "redis://%s127.0.0.1:%d/%d" % (auth, port, db)
        try:
            return subprocess.run(argv + [url], timeout=TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            print("with_redis.py: timed out", file=sys.stderr)
            return 1
    finally:
        server.kill()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
