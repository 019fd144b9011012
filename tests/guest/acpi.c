#include "acpi.h"

#include <stddef.h>

#include "console.h"
#include "physical.h"
#include "platform.h"
#include "port_io.h"

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;            /* covers the ACPI 1.0 part: the first 20 bytes */
	char oem_id[6];
	uint8_t revision;            /* 0: ACPI 1.0 (RSDT only); 2: ACPI 2.0+ (XSDT) */
	uint32_t rsdt_address;
	/* revision >= 2 */
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;   /* covers all `length` bytes */
	uint8_t reserved[3];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");

#define RSDP_V1_LENGTH 20
#define RSDP_REVISION_WITH_XSDT 2
/* Legacy BIOSes put the RSDP on a 16-byte boundary; the search relies on that. */
#define RSDP_SEARCH_ALIGNMENT 16

/* Larger tables than this are treated as corrupt rather than summed for minutes. */
#define ACPI_TABLE_MAX_LENGTH (1u << 20)

/* FADT field offsets (ACPI 6.4, table 5.9) and the length each one needs. */
#define FADT_PM1A_CONTROL_BLOCK_OFFSET 64
#define FADT_RESET_REGISTER_OFFSET 116
#define FADT_RESET_VALUE_OFFSET 128
#define FADT_SLEEP_CONTROL_REGISTER_OFFSET 244

/* MADT layout (ACPI 6.4, section 5.2.12). */
#define MADT_ENTRIES_OFFSET 44
#define MADT_ENTRY_HEADER_LENGTH 2
#define MADT_TYPE_PROCESSOR_LOCAL_APIC 0
#define MADT_LOCAL_APIC_FLAGS_OFFSET 4
#define MADT_LOCAL_APIC_LENGTH 8
#define MADT_LOCAL_APIC_ENABLED 0x1u
#define MADT_LOCAL_APIC_ID_OFFSET 3
#define MADT_TYPE_IO_APIC 1
#define MADT_IO_APIC_ID_OFFSET 2
#define MADT_IO_APIC_LENGTH 12

static const struct acpi_rsdp *rsdp;

/* ACPI tables are byte-packed; read multi-byte fields without alignment assumptions. */
static uint64_t read_le(const void *at, unsigned bytes) {
	const uint8_t *p = at;
	uint64_t value = 0;
	for (unsigned i = bytes; i > 0; i--) {
		value = (value << 8) | p[i - 1];
	}
	return value;
}

static bool checksum_ok(const void *data, uint32_t length) {
	const uint8_t *bytes = data;
	uint8_t sum = 0;
	for (uint32_t i = 0; i < length; i++) {
		sum = (uint8_t)(sum + bytes[i]);
	}
	return sum == 0;
}

static bool signature_equals(const char *a, const char *b, unsigned length) {
	for (unsigned i = 0; i < length; i++) {
		if (a[i] != b[i]) {
			return false;
		}
	}
	return true;
}

static bool rsdp_valid(const struct acpi_rsdp *candidate) {
	if (!signature_equals(candidate->signature, "RSD PTR ", sizeof candidate->signature) ||
	    !checksum_ok(candidate, RSDP_V1_LENGTH)) {
		return false;
	}
	if (candidate->revision < RSDP_REVISION_WITH_XSDT) {
		return true;
	}
	return candidate->length >= sizeof *candidate && candidate->length <= ACPI_TABLE_MAX_LENGTH &&
	       checksum_ok(candidate, candidate->length);
}

/* Only for loaders that leave rsdp_paddr at 0: look where a PC BIOS would put it. */
static const struct acpi_rsdp *search_bios_area(void) {
	for (uint32_t address = BIOS_ROM_AREA_START; address < BIOS_ROM_AREA_END;
	     address += RSDP_SEARCH_ALIGNMENT) {
		const struct acpi_rsdp *candidate = (const struct acpi_rsdp *)(uintptr_t)address;
		if (rsdp_valid(candidate)) {
			return candidate;
		}
	}
	return NULL;
}

void acpi_init(uint64_t rsdp_paddr) {
	rsdp = NULL;
	if (rsdp_paddr != 0) {
		const struct acpi_rsdp *candidate = physical_to_pointer(rsdp_paddr, sizeof(struct acpi_rsdp));
		if (candidate == NULL) {
			console_write_line("acpi: rsdp unreachable");
		} else if (!rsdp_valid(candidate)) {
			console_write_line("acpi: rsdp bad-checksum");
		} else {
			rsdp = candidate;
		}
		return;
	}
	rsdp = search_bios_area();
	if (rsdp == NULL) {
		console_write_line("acpi: no rsdp");
	}
}

/* A table header we can safely read `length` bytes past; NULL if the address is bogus. */
static const struct acpi_table_header *map_table(uint64_t address) {
	const struct acpi_table_header *table = physical_to_pointer(address, sizeof *table);
	if (table == NULL || table->length < sizeof *table || table->length > ACPI_TABLE_MAX_LENGTH ||
	    physical_to_pointer(address, table->length) == NULL) {
		return NULL;
	}
	return table;
}

/* The XSDT when the RSDP offers one, else the ACPI 1.0 RSDT. */
static const struct acpi_table_header *root_table(unsigned *entry_size) {
	if (rsdp == NULL) {
		return NULL;
	}
	if (rsdp->revision >= RSDP_REVISION_WITH_XSDT && rsdp->xsdt_address != 0) {
		*entry_size = sizeof(uint64_t);
		return map_table(rsdp->xsdt_address);
	}
	*entry_size = sizeof(uint32_t);
	return map_table(rsdp->rsdt_address);
}

static uint32_t root_entry_count(const struct acpi_table_header *root, unsigned entry_size) {
	return (root->length - (uint32_t)sizeof *root) / entry_size;
}

static uint64_t root_entry(const struct acpi_table_header *root, unsigned entry_size, uint32_t index) {
	const uint8_t *entries = (const uint8_t *)(root + 1);
	return read_le(entries + (uint64_t)index * entry_size, entry_size);
}

/* Signatures come from the VMM; never send raw control bytes to the console. */
static void write_signature(const char signature[ACPI_SIGNATURE_LENGTH]) {
	for (unsigned i = 0; i < ACPI_SIGNATURE_LENGTH; i++) {
		char c = signature[i];
		console_write_bytes((c >= ' ' && c <= '~') ? &c : "?", 1);
	}
}

void acpi_report_tables(void) {
	unsigned entry_size = 0;
	const struct acpi_table_header *root = root_table(&entry_size);
	if (root == NULL) {
		if (rsdp != NULL) {
			console_write_line("acpi: no root table");
		}
		return;
	}
	if (!checksum_ok(root, root->length)) {
		console_write("acpi: ");
		write_signature(root->signature);
		console_write_line(" bad-checksum");
		return;
	}
	uint32_t count = root_entry_count(root, entry_size);
	for (uint32_t i = 0; i < count; i++) {
		const struct acpi_table_header *table = map_table(root_entry(root, entry_size, i));
		if (table == NULL) {
			console_write("acpi: unreachable table at ");
			console_write_hex(root_entry(root, entry_size, i));
			console_write("\n");
			continue;
		}
		console_write("acpi: ");
		write_signature(table->signature);
		console_write_line(checksum_ok(table, table->length) ? "" : " bad-checksum");
	}
}

const struct acpi_table_header *acpi_find_table(const char signature[ACPI_SIGNATURE_LENGTH]) {
	unsigned entry_size = 0;
	const struct acpi_table_header *root = root_table(&entry_size);
	if (root == NULL || !checksum_ok(root, root->length)) {
		return NULL;
	}
	uint32_t count = root_entry_count(root, entry_size);
	for (uint32_t i = 0; i < count; i++) {
		const struct acpi_table_header *table = map_table(root_entry(root, entry_size, i));
		if (table != NULL && signature_equals(table->signature, signature, ACPI_SIGNATURE_LENGTH) &&
		    checksum_ok(table, table->length)) {
			return table;
		}
	}
	return NULL;
}

int acpi_madt_ids(uint8_t *apic_ids, int max, int *ioapic_id) {
	const struct acpi_table_header *madt = acpi_find_table("APIC");
	if (madt == NULL || madt->length < MADT_ENTRIES_OFFSET) {
		return -1;
	}
	const uint8_t *bytes = (const uint8_t *)madt;
	int cpus = 0;
	if (ioapic_id != NULL) {
		*ioapic_id = -1;
	}
	uint32_t offset = MADT_ENTRIES_OFFSET;
	while (offset + MADT_ENTRY_HEADER_LENGTH <= madt->length) {
		uint8_t type = bytes[offset];
		uint8_t length = bytes[offset + 1];
		/* A zero length would loop forever; an overlong one would read past the table. */
		if (length < MADT_ENTRY_HEADER_LENGTH || offset + length > madt->length) {
			break;
		}
		if (type == MADT_TYPE_PROCESSOR_LOCAL_APIC && length >= MADT_LOCAL_APIC_LENGTH &&
		    (read_le(bytes + offset + MADT_LOCAL_APIC_FLAGS_OFFSET, 4) & MADT_LOCAL_APIC_ENABLED)) {
			if (apic_ids != NULL && cpus < max) {
				apic_ids[cpus] = bytes[offset + MADT_LOCAL_APIC_ID_OFFSET];
			}
			cpus++;
		}
		if (type == MADT_TYPE_IO_APIC && length >= MADT_IO_APIC_LENGTH && ioapic_id != NULL) {
			*ioapic_id = bytes[offset + MADT_IO_APIC_ID_OFFSET];
		}
		offset += length;
	}
	return cpus;
}

int acpi_count_enabled_cpus(void) {
	return acpi_madt_ids(NULL, 0, NULL);
}

/* The FADT if it is long enough to contain `needed` bytes, else NULL. */
static const uint8_t *fadt_with_length(uint32_t needed) {
	const struct acpi_table_header *fadt = acpi_find_table("FACP");
	if (fadt == NULL || fadt->length < needed) {
		return NULL;
	}
	return (const uint8_t *)fadt;
}

static void read_gas(const uint8_t *at, struct acpi_generic_address *out) {
	out->space_id = at[0];
	out->bit_width = at[1];
	out->bit_offset = at[2];
	out->access_size = at[3];
	out->address = read_le(at + 4, 8);
}

bool acpi_sleep_control_register(struct acpi_generic_address *out) {
	const uint8_t *fadt = fadt_with_length(FADT_SLEEP_CONTROL_REGISTER_OFFSET + sizeof *out);
	if (fadt == NULL) {
		return false;
	}
	read_gas(fadt + FADT_SLEEP_CONTROL_REGISTER_OFFSET, out);
	return out->address != 0;
}

bool acpi_pm1a_control_port(uint16_t *out) {
	const uint8_t *fadt = fadt_with_length(FADT_PM1A_CONTROL_BLOCK_OFFSET + sizeof(uint32_t));
	if (fadt == NULL) {
		return false;
	}
	uint64_t port = read_le(fadt + FADT_PM1A_CONTROL_BLOCK_OFFSET, 4);
	if (port == 0 || port > UINT16_MAX) {
		return false;
	}
	*out = (uint16_t)port;
	return true;
}

bool acpi_reset_register(struct acpi_generic_address *out, uint8_t *reset_value) {
	const uint8_t *fadt = fadt_with_length(FADT_RESET_VALUE_OFFSET + sizeof *reset_value);
	if (fadt == NULL) {
		return false;
	}
	read_gas(fadt + FADT_RESET_REGISTER_OFFSET, out);
	*reset_value = fadt[FADT_RESET_VALUE_OFFSET];
	return out->address != 0;
}

/* Access width in bytes; an undefined access size falls back to the register width. */
static unsigned access_bytes(const struct acpi_generic_address *reg) {
	switch (reg->access_size) {
	case ACPI_ACCESS_BYTE:
		return 1;
	case ACPI_ACCESS_WORD:
		return 2;
	case ACPI_ACCESS_DWORD:
		return 4;
	case ACPI_ACCESS_UNDEFINED:
		if (reg->bit_width == 0 || reg->bit_width == 8) {
			return 1;
		}
		if (reg->bit_width == 16 || reg->bit_width == 32) {
			return reg->bit_width / 8u;
		}
		return 0;
	default:
		return 0; /* QWORD access is not needed by any register this guest writes. */
	}
}

bool acpi_write_register(const struct acpi_generic_address *reg, uint32_t value) {
	unsigned bytes = access_bytes(reg);
	if (bytes == 0 || reg->bit_offset >= 32) {
		return false;
	}
	value <<= reg->bit_offset;
	if (reg->space_id == ACPI_SPACE_SYSTEM_IO) {
		if (reg->address > UINT16_MAX) {
			return false;
		}
		uint16_t port = (uint16_t)reg->address;
		if (bytes == 1) {
			outb(port, (uint8_t)value);
		} else if (bytes == 2) {
			outw(port, (uint16_t)value);
		} else {
			outl(port, value);
		}
		return true;
	}
	if (reg->space_id == ACPI_SPACE_SYSTEM_MEMORY) {
		if (physical_to_pointer(reg->address, bytes) == NULL) {
			return false;
		}
		uintptr_t address = (uintptr_t)reg->address; /* below 4 GiB: checked above */
		if (bytes == 1) {
			mmio_write8(address, (uint8_t)value);
		} else if (bytes == 2) {
			mmio_write16(address, (uint16_t)value);
		} else {
			mmio_write32(address, value);
		}
		return true;
	}
	return false;
}
