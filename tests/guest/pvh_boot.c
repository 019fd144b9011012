/* PVH entry path: turns struct hvm_start_info (EBX at entry.S) into a boot_info. */
#include <stddef.h>

#include "boot_info.h"
#include "cmdline.h"
#include "physical.h"
#include "pvh_start_info.h"

__attribute__((noreturn)) void pvh_main(const struct hvm_start_info *start_info);

static void read_initrd(const struct hvm_start_info *start_info, struct boot_info *info) {
	if (start_info->nr_modules == 0) {
		return;
	}
	/* Like Linux, the first module is the initrd. */
	const struct hvm_modlist_entry *module =
		physical_to_pointer(start_info->modlist_paddr, sizeof(struct hvm_modlist_entry));
	if (module == NULL) {
		info->initrd_problem = "initrd: modlist unreachable";
		return;
	}
	info->has_initrd = true;
	info->initrd_addr = module->paddr;
	info->initrd_size = module->size;
}

void pvh_main(const struct hvm_start_info *start_info) {
	struct boot_info info = {.protocol = "pvh", .cmdline = ""};
	if (start_info == NULL || start_info->magic != HVM_START_MAGIC) {
		/* Nothing in it can be trusted: run as if the loader passed nothing at all. */
		info.error = "error: bad start_info magic";
		info.memmap_missing = "memmap: none (start_info version 0)";
		guest_main(&info);
	}
	info.cmdline = cmdline_from_physical(start_info->cmdline_paddr);
	info.rsdp_paddr = start_info->rsdp_paddr;
	if (start_info->version < HVM_START_INFO_VERSION_WITH_MEMMAP) {
		info.memmap_missing = "memmap: none (start_info version 0)";
	} else {
		info.memmap_paddr = start_info->memmap_paddr;
		info.memmap_entries = start_info->memmap_entries;
		info.memmap_entry_size = sizeof(struct hvm_memmap_table_entry);
	}
	read_initrd(start_info, &info);
	guest_main(&info);
}
