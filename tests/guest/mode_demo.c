/*
 * The demo brig's README boots on a host where Linux cannot reach user space: one
 * run that shows the machine brig built and uses every device, each in its own
 * jailed process (serial console, virtio-blk, virtio-rng, virtio-console).
 */
#include "console.h"
#include "modes.h"
#include "power.h"

void mode_demo(const struct boot_info *info) {
	console_write_line("demo: the machine brig built, as this guest sees it");
	report_machine(info);
	console_write_line("demo: virtio devices, each served by its own jailed process");
	report_virtio_devices();
	run_rng();
	run_console();
	run_blk_write(info);
	console_write_line("demo: done, powering off through ACPI");
	power_off();
}
