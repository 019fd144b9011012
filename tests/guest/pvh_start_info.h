/*
 * The PVH boot ABI structures (Xen public/arch-x86/hvm/start_info.h), written out
 * here because the guest is freestanding. All addresses are guest-physical.
 */
#pragma once

#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578u

/* memmap_paddr and memmap_entries exist only from this version on. */
#define HVM_START_INFO_VERSION_WITH_MEMMAP 1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

/* Types follow the E820 numbering. */
#define HVM_MEMMAP_TYPE_RAM 1

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* modlist_paddr points at nr_modules of these; the first one is the initrd. */
struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry layout");
