"""Prints a loopback port for a listener that is named before it starts (bench scripts).

The port lies below the kernel's ephemeral range, which a listener bound to port 0 or the local end of a connection
could otherwise take meanwhile; it is free now, and not one handed out before in this run (the ports given so far
are kept, one per line, in the file named by the only argument).
"""
import random
import socket
import sys

try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError):
    low = 32768
low = max(low, 2048)
given_file = sys.argv[1]
try:
    given = set(open(given_file).read().split())
except OSError:
    given = set()
for _ in range(500):
    port = random.randrange(max(1024, low - 12000), low)
    if str(port) in given:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(given_file, "a") as f:
        f.write("%d\n" % port)
    print(port)
    sys.exit(0)
sys.exit("no free loopback port below %d after 500 tries" % low)
