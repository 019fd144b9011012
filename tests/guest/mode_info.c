/* mode=info: report what the VMM told the guest (memory map, ACPI tables, CPUs). */
#include "modes.h"

#include "acpi.h"
#include "console.h"
#include "physical.h"
#include "power.h"

static void report_memory_map(const struct hvm_start_info *start_info) {
	if (start_info->version < HVM_START_INFO_VERSION_WITH_MEMMAP) {
		console_write_line("memmap: none (start_info version 0)");
		return;
	}
	uint64_t table_bytes = (uint64_t)start_info->memmap_entries * sizeof(struct hvm_memmap_table_entry);
	const struct hvm_memmap_table_entry *entries =
		physical_to_pointer(start_info->memmap_paddr, table_bytes);
	console_write("memmap: ");
	console_write_decimal(start_info->memmap_entries);
	console_write_line(" entries");
	if (entries == NULL) {
		if (start_info->memmap_entries != 0) {
			console_write_line("memmap: table unreachable");
		}
		return;
	}
	uint64_t ram_bytes = 0;
	for (uint32_t i = 0; i < start_info->memmap_entries; i++) {
		console_write("memmap: addr=");
		console_write_hex(entries[i].addr);
		console_write(" size=");
		console_write_hex(entries[i].size);
		console_write(" type=");
		console_write_decimal(entries[i].type);
		console_write("\n");
		if (entries[i].type == HVM_MEMMAP_TYPE_RAM) {
			ram_bytes += entries[i].size;
		}
	}
	console_write("ram-total-kib: ");
	console_write_decimal(ram_bytes >> 10);
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

void mode_info(const struct hvm_start_info *start_info) {
	report_memory_map(start_info);
	acpi_report_tables();
	report_cpus();
	power_off();
}
