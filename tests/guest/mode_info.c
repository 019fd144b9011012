/* mode=info: report what the VMM told the guest (boot protocol, memory map, initrd, ACPI tables, CPUs). */
#include "modes.h"

#include <stddef.h>

#include "acpi.h"
#include "console.h"
#include "physical.h"
#include "power.h"

static void report_memory_map(const struct boot_info *info) {
	if (info->memmap_missing != NULL) {
		console_write_line(info->memmap_missing);
		return;
	}
	uint64_t table_bytes = (uint64_t)info->memmap_entries * info->memmap_entry_size;
	const void *table = physical_to_pointer(info->memmap_paddr, table_bytes);
	console_write("memmap: ");
	console_write_decimal(info->memmap_entries);
	console_write_line(" entries");
	if (table == NULL) {
		if (info->memmap_entries != 0) {
			console_write_line("memmap: table unreachable");
		}
		return;
	}
	uint64_t ram_bytes = 0;
	for (uint32_t i = 0; i < info->memmap_entries; i++) {
		const struct boot_memmap_entry *entry = boot_memmap_entry(table, info->memmap_entry_size, i);
		console_write("memmap: addr=");
		console_write_hex(entry->addr);
		console_write(" size=");
		console_write_hex(entry->size);
		console_write(" type=");
		console_write_decimal(entry->type);
		console_write("\n");
		if (entry->type == BOOT_MEMMAP_TYPE_RAM) {
			ram_bytes += entry->size;
		}
	}
	console_write("ram-total-kib: ");
	console_write_decimal(ram_bytes >> 10);
	console_write("\n");
}

static void report_initrd(const struct boot_info *info) {
	if (info->initrd_problem != NULL) {
		console_write_line(info->initrd_problem);
		return;
	}
	if (!info->has_initrd) {
		console_write_line("initrd: none");
		return;
	}
	console_write("initrd: addr=");
	console_write_hex(info->initrd_addr);
	console_write(" size=");
	console_write_hex(info->initrd_size);
	console_write("\n");
}

static void report_cpus(void) {
	int cpus = acpi_count_enabled_cpus();
	if (cpus < 0) {
		console_write_line("cpus: no madt");
		return;
	}
	console_write("cpus: ");
	console_write_decimal((uint64_t)cpus);
	console_write("\n");
}

void report_machine(const struct boot_info *info) {
	console_write("boot: protocol=");
	console_write_line(info->protocol);
	report_memory_map(info);
	report_initrd(info);
	acpi_report_tables();
	report_cpus();
}

void mode_info(const struct boot_info *info) {
	report_machine(info);
	power_off();
}
