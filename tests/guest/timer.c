/*
 * The one interrupt the guest ever takes: the local APIC timer, at vector
 * TIMER_VECTOR, into an IDT whose every other gate ignores what arrives. The legacy
 * PIC and the APIC's LINT0/LINT1 are masked first: KVM wires LINT0 of the boot CPU
 * to the PIC as ExtINT, and a PIC that nobody programmed delivers on vectors 0-15,
 * where exceptions live.
 */
#include "timer.h"

#include <stdbool.h>

#include "port_io.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_DIVIDE 0x3e0
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_SVR_ENABLE (1u << 8)
#define LAPIC_DIVIDE_BY_1 0xbu
/* KVM's in-kernel APIC timer counts at 1 GHz (its default APIC bus cycle of 1 ns). */
#define LAPIC_TICKS_PER_MS 1000000u
#define LAPIC_MAX_CHUNK_MS 4000u /* keeps the count below 2^32 */

#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA 0xa1

#define TIMER_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff
#define IDT_ENTRIES 256
#define GATE_INTERRUPT_PRESENT 0x8e /* present, DPL 0, interrupt gate (IF cleared on entry) */

struct interrupt_frame;

#ifdef __x86_64__
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));
#else
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t zero;
	uint8_t type;
	uint16_t offset_mid;
} __attribute__((packed));
#endif

struct idt_pointer {
	uint16_t limit;
	uintptr_t base;
} __attribute__((packed));

static struct idt_gate idt[IDT_ENTRIES] __attribute__((aligned(16)));
volatile uint32_t timer_fired; /* named in the 32-bit entry stubs */
static bool timer_ready;

static void lapic_write(uint32_t reg, uint32_t value) {
	*(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = value;
}

static uint32_t lapic_read(uint32_t reg) {
	return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg);
}

#ifdef __x86_64__
__attribute__((interrupt)) static void on_timer(struct interrupt_frame *frame) {
	(void)frame;
	timer_fired = 1;
	lapic_write(LAPIC_EOI, 0);
}

/* Anything else that gets through: acknowledged and otherwise ignored. */
__attribute__((interrupt)) static void on_other(struct interrupt_frame *frame) {
	(void)frame;
	lapic_write(LAPIC_EOI, 0);
}
#else
/*
 * The 32-bit build returns without IRET, which brig's ring-0 emulator (kvm_pvm) cannot
 * emulate in 32-bit mode: the frame is EIP, CS, EFLAGS (no privilege change), the
 * handler runs with IF clear, and sleep_ms() clears IF after HLT anyway, so popping
 * EIP into memory, dropping CS and EFLAGS and jumping back is the same return. Only
 * flags change, which the HLT asm declares.
 */
void guest_timer_entry(struct interrupt_frame *frame);
void guest_other_entry(struct interrupt_frame *frame);
uint32_t guest_interrupt_return;
__asm__(".text\n"
	"guest_timer_entry:\n"
	"	movl $1, timer_fired\n"
	"guest_other_entry:\n"
	"	movl $0, 0xfee000b0\n" /* LAPIC_BASE + LAPIC_EOI */
	"	popl guest_interrupt_return\n"
	"	addl $8, %esp\n"
	"	jmp *guest_interrupt_return\n");
#define on_timer guest_timer_entry
#define on_other guest_other_entry
#endif

static void set_gate(unsigned vector, void (*handler)(struct interrupt_frame *), uint16_t selector) {
	const uintptr_t offset = (uintptr_t)handler;
	struct idt_gate *gate = &idt[vector];
	gate->offset_low = (uint16_t)offset;
	gate->selector = selector;
	gate->type = GATE_INTERRUPT_PRESENT;
	gate->offset_mid = (uint16_t)(offset >> 16);
#ifdef __x86_64__
	gate->ist = 0;
	gate->offset_high = (uint32_t)(offset >> 32);
	gate->reserved = 0;
#else
	gate->zero = 0;
#endif
}

static void timer_setup(void) {
	uint16_t code_selector;
	__asm__ volatile("mov %%cs, %0" : "=r"(code_selector));
	for (unsigned v = 0; v < IDT_ENTRIES; v++)
		set_gate(v, on_other, code_selector);
	set_gate(TIMER_VECTOR, on_timer, code_selector);
	const struct idt_pointer pointer = {sizeof idt - 1, (uintptr_t)idt};
	__asm__ volatile("lidt %0" : : "m"(pointer));

	outb(PIC_MASTER_DATA, 0xff);
	outb(PIC_SLAVE_DATA, 0xff);
	lapic_write(LAPIC_LVT_LINT0, lapic_read(LAPIC_LVT_LINT0) | LAPIC_LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, lapic_read(LAPIC_LVT_LINT1) | LAPIC_LVT_MASKED);
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | SPURIOUS_VECTOR);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_DIVIDE_BY_1);
	timer_ready = true;
}

void sleep_ms(uint32_t ms) {
	if (!timer_ready)
		timer_setup();
	while (ms > 0) {
		const uint32_t chunk = ms > LAPIC_MAX_CHUNK_MS ? LAPIC_MAX_CHUNK_MS : ms;
		timer_fired = 0;
		lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR); /* one-shot, unmasked */
		lapic_write(LAPIC_TIMER_INITIAL, chunk * LAPIC_TICKS_PER_MS);
		/* STI's one-instruction shadow makes "sti; hlt" atomic: no wake-up is lost. */
		while (!timer_fired)
			__asm__ volatile("sti; hlt; cli" ::: "memory", "cc");
		ms -= chunk;
	}
}

bool poll_ms(uint32_t ms, bool (*ready)(void *arg), void *arg) {
	if (!timer_ready)
		timer_setup();
	if (ms > LAPIC_MAX_CHUNK_MS)
		ms = LAPIC_MAX_CHUNK_MS;
	/* Masked: the count runs down as a clock and raises nothing. */
	lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INITIAL, ms * LAPIC_TICKS_PER_MS);
	for (;;) {
		if (ready(arg))
			return true;
		if (lapic_read(LAPIC_TIMER_CURRENT) == 0)
			return false;
	}
}
