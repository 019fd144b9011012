/* mode=virtio-info, mode=rng, mode=console: virtio devices other than the disk. */
#include "modes.h"

#include "console.h"
#include "dma.h"
#include "port_io.h"
#include "power.h"
#include "virtio_mmio.h"
#include "virtqueue.h"

#define RNG_BYTES 32u
/* A device may return fewer bytes than asked; give up after this many requests. */
#define RNG_MAX_REQUESTS 64u

/* virtio-console (5.3.2): port 0's receive queue is 0, its transmit queue 1. */
#define CONSOLE_RECEIVE_QUEUE 0
#define CONSOLE_TRANSMIT_QUEUE 1
static const char console_text[] = "hello from hvc0\n";

static struct vq_page queue_pages[2] DMA_AREA;
static uint8_t buffer[DMA_PAGE_SIZE] DMA_AREA;

void report_virtio_devices(void) {
	struct virtio_device found[VIRTIO_MAX_DEVICES];
	uint32_t count = virtio_probe(found, VIRTIO_MAX_DEVICES);
	for (uint32_t i = 0; i < count; i++) {
		struct virtio_device *dev = &found[i];
		/* QueueNumMax is read where the spec reads it: after FEATURES_OK, before DRIVER_OK. */
		uint32_t queue_max = 0;
		if (virtio_negotiate(dev, 0)) {
			virtio_write(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
			queue_max = virtio_read(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
		}
		virtio_reset(dev);
		console_write("virtio: dev=");
		console_write_decimal(i);
		console_write(" id=");
		console_write_decimal(dev->device_id);
		console_write(" base=");
		console_write_hex(dev->base);
		console_write(" queues-max=");
		console_write_decimal(queue_max);
		console_write("\n");
	}
	console_write("virtio: devices=");
	console_write_decimal(count);
	console_write("\n");
}

void mode_virtio_info(const struct boot_info *info) {
	(void)info;
	report_virtio_devices();
	power_off();
}

/* Brings up `dev` with queue `index` ready; other queues stay off. */
static bool open_device(uint32_t device_id, const char *name, struct virtio_device *dev, struct virtqueue *vq,
                        uint16_t index) {
	if (!virtio_find(device_id, dev)) {
		console_write(name);
		console_write_line(": no device");
		return false;
	}
	if (!virtio_negotiate(dev, 0) || !vq_setup(vq, dev, index, &queue_pages[0], VQ_DEFAULT_SIZE)) {
		return false;
	}
	return true;
}

static bool wait_one(struct virtqueue *vq, const char *name, uint32_t *len) {
	uint32_t head;
	enum vq_wait_result result = vq_wait(vq, &head, len);
	if (result == VQ_DONE) {
		return true;
	}
	console_write(name);
	console_write_line(result == VQ_NEEDS_RESET ? ": device needs reset" : ": timeout");
	return false;
}

void run_rng(void) {
	struct virtio_device dev;
	struct virtqueue vq;
	if (!open_device(VIRTIO_ID_RNG, "rng", &dev, &vq, 0)) {
		return;
	}
	virtio_driver_ok(&dev);
	uint32_t have = 0;
	for (uint32_t request = 0; have < RNG_BYTES && request < RNG_MAX_REQUESTS; request++) {
		struct vq_buffer out = {dma_address(buffer + have), RNG_BYTES - have, true};
		vq_add(&vq, &out, 1);
		vq_kick(&vq);
		uint32_t len;
		if (!wait_one(&vq, "rng", &len)) {
			return;
		}
		/* len is the device's word: never trust it past what was offered. */
		have += len > RNG_BYTES - have ? RNG_BYTES - have : len;
	}
	static const char digits[] = "0123456789abcdef";
	bool nonzero = false;
	console_write("rng: bytes=");
	for (uint32_t i = 0; i < have; i++) {
		char pair[2] = {digits[buffer[i] >> 4], digits[buffer[i] & 0xf]};
		console_write_bytes(pair, 2);
		nonzero |= buffer[i] != 0;
	}
	console_write("\n");
	if (have < RNG_BYTES) {
		console_write("rng: short=");
		console_write_decimal(have);
		console_write("\n");
	}
	console_write(nonzero ? "rng: nonzero=1\n" : "rng: nonzero=0\n");
}

void mode_rng(const struct boot_info *info) {
	(void)info;
	run_rng();
	power_off();
}

void run_console(void) {
	struct virtio_device dev;
	struct virtqueue receive;
	struct virtqueue transmit;
	/* No MULTIPORT: one port, queues 0 (receive) and 1 (transmit). */
	if (!open_device(VIRTIO_ID_CONSOLE, "console", &dev, &receive, CONSOLE_RECEIVE_QUEUE) ||
	    !vq_setup(&transmit, &dev, CONSOLE_TRANSMIT_QUEUE, &queue_pages[1], VQ_DEFAULT_SIZE)) {
		return;
	}
	virtio_driver_ok(&dev);
	uint32_t length = sizeof console_text - 1;
	for (uint32_t i = 0; i < length; i++) {
		buffer[i] = (uint8_t)console_text[i];
	}
	struct vq_buffer out = {dma_address(buffer), length, false};
	vq_add(&transmit, &out, 1);
	vq_kick(&transmit);
	uint32_t len;
	if (!wait_one(&transmit, "console", &len)) {
		return;
	}
	console_write_line("console: sent");
}

void mode_console(const struct boot_info *info) {
	(void)info;
	run_console();
	power_off();
}

/*
 * console-echo: waits for one chunk of input on hvc0's receive queue and sends it
 * back on the transmit queue as "hvc0 got: <bytes>", so a host test sees the
 * round trip on the virtio console alone (the UART may be a sink).
 */
#define CONSOLE_INPUT_BYTES 64u

void mode_console_echo(const struct boot_info *info) {
	(void)info;
	struct virtio_device dev;
	struct virtqueue receive;
	struct virtqueue transmit;
	if (!open_device(VIRTIO_ID_CONSOLE, "console", &dev, &receive, CONSOLE_RECEIVE_QUEUE) ||
	    !vq_setup(&transmit, &dev, CONSOLE_TRANSMIT_QUEUE, &queue_pages[1], VQ_DEFAULT_SIZE)) {
		power_off();
	}
	static const char prefix[] = "hvc0 got: ";
	const uint32_t prefix_length = sizeof prefix - 1;
	uint8_t *input = buffer + prefix_length;
	struct vq_buffer in = {dma_address(input), CONSOLE_INPUT_BYTES, true};
	vq_add(&receive, &in, 1);
	virtio_driver_ok(&dev);
	vq_kick(&receive);
	console_write_line("console: waiting for input");
	uint32_t received;
	if (!wait_one(&receive, "console", &received)) {
		power_off();
	}
	/* The device's length is its word only: never past what was offered. */
	if (received > CONSOLE_INPUT_BYTES) {
		received = CONSOLE_INPUT_BYTES;
	}
	for (uint32_t i = 0; i < prefix_length; i++) {
		buffer[i] = (uint8_t)prefix[i];
	}
	struct vq_buffer out = {dma_address(buffer), prefix_length + received, false};
	vq_add(&transmit, &out, 1);
	vq_kick(&transmit);
	uint32_t sent;
	if (!wait_one(&transmit, "console", &sent)) {
		power_off();
	}
	console_write_line("console: echoed");
	power_off();
}

/*
 * serial-ports: a line on every serial port and console brig gave the guest, for
 * crosvm's --serial layouts (Android's among them). Each of COM2..COM4 that answers
 * (its scratch register keeps what is written) gets "ttyS<n>: hello" by polled
 * writes, and ttyS1 also "ttyS1: reason=<the failure reason>" (reason=WORD on the
 * command line), as Android's guests report why they stopped; then each virtio
 * console hvc<i> gets "hvc<i>: hello". On COM1: "serial-ports: ttyS<n> present"
 * per port, "serial-ports: hvc<i> sent" per console, "serial-ports: done".
 */
static const uint16_t com_ports[] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
enum { UART_SCRATCH = 7, UART_LINE_CONTROL = 3, UART_LINE_STATUS = 5, UART_THR_EMPTY = 0x20 };

static void uart_polled_write(uint16_t port, const char *text) {
	for (; *text != '\0'; text++) {
		for (uint32_t spins = 0; spins < 100000 && !(inb(port + UART_LINE_STATUS) & UART_THR_EMPTY); spins++) {
		}
		outb(port, (uint8_t)*text);
	}
}

static void send_on_console(uint32_t nth) {
	struct virtio_device dev;
	struct virtqueue receive;
	struct virtqueue transmit;
	if (!virtio_find_nth(VIRTIO_ID_CONSOLE, nth, &dev)) {
		return;
	}
	if (!virtio_negotiate(&dev, 0) ||
	    !vq_setup(&receive, &dev, CONSOLE_RECEIVE_QUEUE, &queue_pages[0], VQ_DEFAULT_SIZE) ||
	    !vq_setup(&transmit, &dev, CONSOLE_TRANSMIT_QUEUE, &queue_pages[1], VQ_DEFAULT_SIZE)) {
		return;
	}
	virtio_driver_ok(&dev);
	static const char text[] = "hvc?: hello\n";
	uint32_t length = sizeof text - 1;
	for (uint32_t i = 0; i < length; i++) {
		buffer[i] = (uint8_t)text[i];
	}
	buffer[3] = (uint8_t)('0' + nth);
	struct vq_buffer out = {dma_address(buffer), length, false};
	vq_add(&transmit, &out, 1);
	vq_kick(&transmit);
	uint32_t len;
	if (wait_one(&transmit, "serial-ports", &len)) {
		console_write("serial-ports: hvc");
		console_write_decimal(nth);
		console_write_line(" sent");
	}
	virtio_reset(&dev); /* the queue pages are the next console's */
}

void mode_serial_ports(const struct boot_info *info) {
	char reason[40] = "none";
	const char *at = info->cmdline;
	for (; *at != '\0'; at++) {
		if ((at == info->cmdline || at[-1] == ' ') && at[0] == 'r' && at[1] == 'e' && at[2] == 'a' &&
		    at[3] == 's' && at[4] == 'o' && at[5] == 'n' && at[6] == '=') {
			uint32_t n = 0;
			for (const char *c = at + 7; *c != '\0' && *c != ' ' && n + 1 < sizeof reason; c++) {
				reason[n++] = *c;
			}
			reason[n] = '\0';
		}
	}
	for (uint32_t n = 1; n < sizeof com_ports / sizeof com_ports[0]; n++) {
		const uint16_t port = com_ports[n];
		outb(port + UART_SCRATCH, 0x5a);
		if (inb(port + UART_SCRATCH) != 0x5a) {
			continue; /* nothing there: the bus reads 0xff */
		}
		outb(port + UART_LINE_CONTROL, 0x03); /* 8N1 */
		static char line[64] = "ttyS?: hello\n";
		line[4] = (char)('0' + n);
		uart_polled_write(port, line);
		if (n == 1) {
			uart_polled_write(port, "ttyS1: reason=");
			uart_polled_write(port, reason);
			uart_polled_write(port, "\n");
		}
		console_write("serial-ports: ttyS");
		console_write_decimal(n);
		console_write_line(" present");
	}
	for (uint32_t nth = 0; nth < 8; nth++) {
		send_on_console(nth);
	}
	console_write_line("serial-ports: done");
	power_off();
}
