/*
 * What the loader told the guest, independent of the boot protocol that carried it.
 * Each entry path fills one in from its own structure (pvh_boot.c: the PVH
 * hvm_start_info; linux64_boot.c: the Linux boot_params "zero page") and hands it
 * to guest_main, so the modes never see either format. Addresses are
 * guest-physical; physical_to_pointer (physical.h) turns them into pointers.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Memory map types follow the E820 numbering in both protocols. */
#define BOOT_MEMMAP_TYPE_RAM 1

struct boot_info {
	const char *protocol;       /* "pvh" or "linux64", for "boot: protocol=..." */
	const char *cmdline;        /* NUL-terminated, never NULL ("" when absent) */
	const char *error;          /* a whole line printed after "cmdline:", or NULL */
	uint64_t rsdp_paddr;        /* 0: search the BIOS area like a BIOS-era OS */

	/* The memory map stays in guest memory; see boot_memmap_entry. */
	const char *memmap_missing; /* non-NULL: printed instead of the memory map */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t memmap_entry_size; /* 24 (hvm_memmap_table_entry) or 20 (boot_e820_entry) */

	bool has_initrd;
	uint64_t initrd_addr;
	uint64_t initrd_size;
	const char *initrd_problem; /* non-NULL: printed instead of the initrd line */
};

/*
 * Both memory map formats start with addr (8 bytes), size (8) and type (4); they
 * differ only in stride. Packed because a 20-byte e820 stride leaves addr only
 * 4-byte aligned.
 */
struct boot_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct boot_memmap_entry) == 20, "memmap entry prefix");

/* Entry `index` of a table already checked to be reachable for all its entries. */
static inline const struct boot_memmap_entry *boot_memmap_entry(const void *table, uint32_t entry_size,
                                                                 uint32_t index) {
	return (const struct boot_memmap_entry *)((const uint8_t *)table + (uint64_t)index * entry_size);
}

/* The protocol-independent part of the guest: prints the start lines and runs the mode. */
__attribute__((noreturn)) void guest_main(const struct boot_info *info);
