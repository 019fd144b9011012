/*
 * mode=topology: the CPU shape as a guest kernel reads it, from the boot CPU's CPUID
 * and the MADT, for brig's --cpus N,sockets=S,cores=C,threads=T.
 *   topology: leaf1 apic=A logical=L htt=H
 *   topology: leafb smt_shift=S smt_count=N core_shift=S core_count=N x2apic=A
 *   topology: leaf4 cache=1 cores=C sharing=T    (one line per cache leaf)
 *   topology: madt apic=0,1,2,4 ioapic=7
 */
#include "modes.h"

#include <stdint.h>

#include "acpi.h"
#include "console.h"
#include "power.h"

struct cpuid_result {
	uint32_t eax, ebx, ecx, edx;
};

static struct cpuid_result cpuid(uint32_t leaf, uint32_t subleaf) {
	struct cpuid_result r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
	return r;
}

static void field(const char *name, uint64_t value) {
	console_write(" ");
	console_write(name);
	console_write("=");
	console_write_decimal(value);
}

void mode_topology(const struct boot_info *info) {
	(void)info;
	const struct cpuid_result leaf1 = cpuid(1, 0);
	console_write("topology: leaf1");
	field("apic", leaf1.ebx >> 24);
	field("logical", (leaf1.ebx >> 16) & 0xffu);
	field("htt", (leaf1.edx >> 28) & 1u);
	console_write("\n");

	const struct cpuid_result smt = cpuid(0xb, 0);
	const struct cpuid_result core = cpuid(0xb, 1);
	console_write("topology: leafb");
	field("smt_shift", smt.eax & 0x1fu);
	field("smt_count", smt.ebx & 0xffffu);
	field("core_shift", core.eax & 0x1fu);
	field("core_count", core.ebx & 0xffffu);
	field("x2apic", smt.edx);
	console_write("\n");

	for (uint32_t sub = 0; sub < 8; sub++) {
		const struct cpuid_result cache = cpuid(4, sub);
		if ((cache.eax & 0x1fu) == 0) {
			break; /* no more caches */
		}
		console_write("topology: leaf4");
		field("cache", (cache.eax >> 5) & 0x7u);
		field("cores", (cache.eax >> 26) + 1);
		field("sharing", ((cache.eax >> 14) & 0xfffu) + 1);
		console_write("\n");
	}

	uint8_t ids[256];
	int ioapic = -1;
	const int cpus = acpi_madt_ids(ids, (int)sizeof ids, &ioapic);
	console_write("topology: madt apic=");
	for (int i = 0; i < cpus && i < (int)sizeof ids; i++) {
		if (i > 0) {
			console_write(",");
		}
		console_write_decimal(ids[i]);
	}
	console_write(" ioapic=");
	console_write_decimal((uint64_t)(int64_t)ioapic);
	console_write("\n");
	power_off();
}
