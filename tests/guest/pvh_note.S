/*
 * The PVH boot note: it is how a loader (brig, QEMU, Xen, cloud-hypervisor) learns
 * that this ELF can be entered directly in 32-bit protected mode, and where.
 * Format: the standard ELF note header (namesz, descsz, type), the name "Xen\0"
 * and a 32-bit descriptor holding the physical entry address.
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.pvh, "a", @note
	.balign 4
	.long pvh_note_name_end - pvh_note_name	/* namesz, NUL included */
	.long pvh_note_desc_end - pvh_note_desc	/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY		/* type */
pvh_note_name:
	.asciz "Xen"
pvh_note_name_end:
	.balign 4
pvh_note_desc:
	.long pvh_entry
pvh_note_desc_end:
	.balign 4

	.section .note.GNU-stack, "", @progbits
