# brig's control socket (`brig run --socket PATH`): what an operator or an orchestrator
# asks of a running VM, and what `brig stop|suspend|resume|status|events SOCKET` send.
# The client is not trusted: brig bounds its connections in number, message size and
# idle time (vmm/control/control_server.h). A refused request (suspending a suspended
# VM, say) fails with a one-line reason.
@0xca686623f29ccae0;

$import "/capnp/c++.capnp".namespace("brig::ipc::control");

# Bumped on any change a client could notice; a client refuses a version it does not know.
const protocolVersion :UInt32 = 1;

interface VmControl {
  version @0 () -> (version :UInt32);
  # A coordinated stop: brig exits 0 and records SHUTDOWN.
  stop @1 () -> ();
  # Every vCPU paused through its state machine, every device paused after what it
  # has in flight; resume undoes it.
  suspend @2 () -> ();
  resume @3 () -> ();
  # One JSON object (README: "Driving brig from an orchestrator").
  status @4 () -> (json :Text);
  # The events after sequence number `after` (0: from the first), as JSON lines, and
  # the number to ask after next. Waits about a second for one when there is none.
  # `ended`: the VM has stopped and nothing more will come.
  events @5 (after :UInt64) -> (lines :List(Text), next :UInt64, ended :Bool);
  # An ACPI power-button press (the DSDT's Generic Event Device), so that the guest
  # can shut itself down cleanly.
  powerButton @6 () -> ();
}
