#!/usr/bin/env python3
"""Launch a VMM the way an orchestrator does with a TAP fd: attach to the TAP NAME
(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR), leave the fd open across exec, and run COMMAND
with every "{fd}" in it replaced by the fd's number.

usage: pass-tap-fd.py NAME -- COMMAND [ARG]...
"""
import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    name, command = sys.argv[1], sys.argv[3:]
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    os.set_inheritable(fd, True)
    os.execvp(command[0], [arg.replace("{fd}", str(fd)) for arg in command])


if __name__ == "__main__":
    main()
