#!/usr/bin/env python3
"""comet-idle.py PORT PID N: the server's memory per waiting legacy comet
request (POST /comet, which halley bench does not speak). Opens N
connections to 127.0.0.1:PORT, each sending one request that waits on the
channel "news" (the server must have it, e.g. --config with
{"channels": [{"name": "news"}]}, and --max-conns-per-ip -1), and prints
the growth of PID's RSS per connection. The connections close when it
exits."""
import resource
import socket
import sys
import time

port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))


def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


body = b"registration=news"
request = b"POST /comet HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ocsigen-comet\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
before = rss_kb()
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    socks.append(s)
time.sleep(3)  # a measurement, not a test: let the server settle
print("comet idle: %.1f KB of server RSS per waiting request (%d)" % ((rss_kb() - before) / n, n))
