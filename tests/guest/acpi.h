/*
 * Just enough ACPI to test a VMM's tables and power management: locate the RSDP,
 * walk the XSDT (or the RSDT for ACPI 1.0), and read a few FADT and MADT fields.
 * Field offsets are from the ACPI 6.x specification, section 5.2.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define ACPI_SIGNATURE_LENGTH 4

struct acpi_table_header {
	char signature[ACPI_SIGNATURE_LENGTH];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure: how ACPI names a register in some address space. */
struct acpi_generic_address {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

enum {
	ACPI_SPACE_SYSTEM_MEMORY = 0,
	ACPI_SPACE_SYSTEM_IO = 1,
};

enum {
	ACPI_ACCESS_UNDEFINED = 0,
	ACPI_ACCESS_BYTE = 1,
	ACPI_ACCESS_WORD = 2,
	ACPI_ACCESS_DWORD = 3,
};

_Static_assert(sizeof(struct acpi_table_header) == 36, "ACPI header layout");
_Static_assert(sizeof(struct acpi_generic_address) == 12, "GAS layout");

/*
 * Remembers where the RSDP is so later lookups need not repeat the search.
 * rsdp_paddr comes from the boot protocol; 0 means search the BIOS area.
 */
void acpi_init(uint64_t rsdp_paddr);

/* Prints "acpi: SIG" (or "acpi: SIG bad-checksum") for each table the root table lists. */
void acpi_report_tables(void);

/* The first table with this signature and a valid checksum, or NULL. */
const struct acpi_table_header *acpi_find_table(const char signature[ACPI_SIGNATURE_LENGTH]);

/* Enabled processor local APIC entries in the MADT; -1 if there is no valid MADT. */
/* The APIC ids of the MADT's enabled local APICs, in table order (at most `max` stored),
 * and the IOAPIC's id (-1 if none): how many local APICs there are, -1 without a MADT. */
int acpi_madt_ids(uint8_t *apic_ids, int max, int *ioapic_id);
int acpi_count_enabled_cpus(void);

/*
 * FADT registers. Each returns false when the FADT is missing, too short to hold
 * the field, or the register is not present (address 0).
 */
bool acpi_sleep_control_register(struct acpi_generic_address *out);
bool acpi_pm1a_control_port(uint16_t *out);
bool acpi_reset_register(struct acpi_generic_address *out, uint8_t *reset_value);

/* Writes value to a GAS register honouring its access size; false if unsupported. */
bool acpi_write_register(const struct acpi_generic_address *reg, uint32_t value);
