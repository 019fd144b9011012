# Control path between the VMM (client) and a device process (server).
# Guest I/O never crosses this: MMIO/PIO accesses go through the shared-memory
# mailbox (mailbox.h), queue notifies through ioeventfds and interrupts through irqfds.
@0xc1b3a1d2e4f50617;

$import "/capnp/c++.capnp".namespace("brig::ipc::schema");

# A capability that carries a file descriptor (Capability::Server::getFd()).
interface FileDescriptor {}

struct Resource {
  name @0 :Text;              # "irq", "output", "input", "mailbox", "guest-memory", ...
  fd @1 :FileDescriptor;
}

# A named value for what an fd cannot say (virtio-net's "mac"): device_kind.h names them.
struct Setting {
  name @0 :Text;
  value @1 :Text;
}

interface Device {
  # Hands over everything the device needs; it starts serving the mailbox after this.
  activate @0 (resources :List(Resource), settings :List(Setting)) -> ();
  pause @1 () -> ();
  resume @2 () -> ();
  # Flush, stop, and answer; the process exits 0 after the reply.
  shutdown @3 () -> ();
  # Slow-path accesses (tests and benchmarks); the vCPUs use the mailbox.
  read @4 (offset :UInt64, size :UInt8) -> (data :UInt64);
  write @5 (offset :UInt64, size :UInt8, data :UInt64) -> ();
  # virtio-vsock: a host connection brig brokered (the device opens no socket itself).
  # hostPort 0: a host program's CONNECT to guestPort; the device picks the host port
  # and writes "OK <port>\n" on the fd once the guest accepts. hostPort != 0: brig's
  # answer to Supervisor.connectHost; without an fd nothing listens there.
  hostConnection @6 (guestPort :UInt32, hostPort :UInt32, fd :FileDescriptor) -> ();
  # A reboot in place (brig run --on-reboot restart), with every vCPU paused: finish
  # and flush what is in flight, then return to the state the guest found at power-on
  # (virtio: status 0 and no queues; the UART: its reset values), keeping the
  # resources. Answered once done.
  reset @7 () -> ();
}

# Exported by the VMM on the same connection.
interface Supervisor {
  reportError @0 (message :Text) -> ();
  # virtio-vsock: the guest connects from guestPort to host port hostPort; brig answers
  # with Device.hostConnection (rate-limited: device_contract::kHostConnectsPerSecond).
  connectHost @1 (guestPort :UInt32, hostPort :UInt32) -> ();
}
