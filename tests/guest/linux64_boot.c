/*
 * Linux 64-bit boot protocol entry path (bzImage build): turns struct boot_params,
 * the "zero page" the loader passed in RSI (bzimage_entry.S), into a boot_info.
 * Fields are read by offset (boot_params.h) so the guest checks the loader's
 * layout against the documented one rather than against a shared header.
 */
#include <stddef.h>
#include <stdint.h>

#include "boot_info.h"
#include "boot_params.h"
#include "cmdline.h"
#include "physical.h"

__attribute__((noreturn)) void linux64_main(uint64_t boot_params_paddr);

static uint64_t read_le(const uint8_t *zero_page, unsigned offset, unsigned bytes) {
	uint64_t value = 0;
	for (unsigned i = bytes; i > 0; i--) {
		value = (value << 8) | zero_page[offset + i - 1];
	}
	return value;
}

/* A 64-bit address split into a setup header field and its ext_ high half. */
static uint64_t read_split(const uint8_t *zero_page, unsigned low_offset, unsigned high_offset) {
	return read_le(zero_page, low_offset, 4) | (read_le(zero_page, high_offset, 4) << 32);
}

void linux64_main(uint64_t boot_params_paddr) {
	struct boot_info info = {.protocol = "linux64", .cmdline = ""};
	const uint8_t *zero_page = physical_to_pointer(boot_params_paddr, BOOT_PARAMS_SIZE);
	/* The loader copies this kernel's own setup header in, "HdrS" included. */
	if (zero_page == NULL || read_le(zero_page, BP_HDR_HEADER, 4) != BP_HEADER_MAGIC) {
		info.error = "error: bad boot_params (no HdrS)";
		info.memmap_missing = "memmap: none (no boot_params)";
		guest_main(&info);
	}
	info.cmdline = cmdline_from_physical(read_split(zero_page, BP_HDR_CMD_LINE_PTR, BP_EXT_CMD_LINE_PTR));
	info.rsdp_paddr = read_le(zero_page, BP_ACPI_RSDP_ADDR, 8);

	uint32_t e820_entries = (uint32_t)read_le(zero_page, BP_E820_ENTRIES, 1);
	if (e820_entries > BP_E820_MAX_ENTRIES) {
		/* The table has room for 128 only; anything past it is other boot_params fields. */
		info.error = "error: e820_entries above 128, memmap truncated";
		e820_entries = BP_E820_MAX_ENTRIES;
	}
	info.memmap_paddr = boot_params_paddr + BP_E820_TABLE;
	info.memmap_entries = e820_entries;
	info.memmap_entry_size = BP_E820_ENTRY_SIZE;

	uint64_t ramdisk_image = read_split(zero_page, BP_HDR_RAMDISK_IMAGE, BP_EXT_RAMDISK_IMAGE);
	uint64_t ramdisk_size = read_split(zero_page, BP_HDR_RAMDISK_SIZE, BP_EXT_RAMDISK_SIZE);
	/* Either field set means the loader meant to pass one; show what it wrote. */
	if (ramdisk_image != 0 || ramdisk_size != 0) {
		info.has_initrd = true;
		info.initrd_addr = ramdisk_image;
		info.initrd_size = ramdisk_size;
	}
	guest_main(&info);
}
