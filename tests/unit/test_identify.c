/* cmocka tests of the Identify/discovery builders (src/nvme/identify.c), read back at the byte offsets
 * the NVMe base 2.0 and NVMe-oF 1.1 specs give, with the values the Linux host checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nvme/identify.h"

/* Offsets are written out from the spec figures, not taken from spec.h, so a struct layout slip fails. */
enum {
	IDC_SN = 4,
	IDC_MN = 24,
	IDC_FR = 64,
	IDC_CMIC = 76,
	IDC_MDTS = 77,
	IDC_CNTLID = 78,
	IDC_VER = 80,
	IDC_OAES = 92,
	IDC_CTRATT = 96,
	IDC_CNTRLTYPE = 111,
	IDC_AERL = 259,
	IDC_LPA = 261,
	IDC_KAS = 320,
	IDC_ANATT = 342,
	IDC_ANACAP = 343,
	IDC_ANAGRPMAX = 344,
	IDC_NANAGRPID = 348,
	IDC_SQES = 512,
	IDC_CQES = 513,
	IDC_MAXCMD = 514,
	IDC_NN = 516,
	IDC_ONCS = 520,
	IDC_VWC = 525,
	IDC_SGLS = 536,
	IDC_SUBNQN = 768,
	IDC_IOCCSZ = 1792,
	IDC_IORCSZ = 1796,
	IDC_ICDOFF = 1800,
	IDC_MSDBD = 1803,

	IDN_NSZE = 0,
	IDN_NCAP = 8,
	IDN_NUSE = 16,
	IDN_NSFEAT = 24,
	IDN_NLBAF = 25,
	IDN_FLBAS = 26,
	IDN_NMIC = 30,
	IDN_DLFEAT = 33,
	IDN_NPWG = 64,
	IDN_NPWA = 66,
	IDN_NPDG = 68,
	IDN_NPDA = 70,
	IDN_NOWS = 72,
	IDN_ANAGRPID = 92,
	IDN_NSATTR = 99,
	IDN_NGUID = 104,
	IDN_EUI64 = 120,
	IDN_LBAF0 = 128,

	DLE_TRTYPE = 0,
	DLE_ADRFAM = 1,
	DLE_SUBTYPE = 2,
	DLE_TREQ = 3,
	DLE_PORTID = 4,
	DLE_CNTLID = 6,
	DLE_ASQSZ = 8,
	DLE_EFLAGS = 10,
	DLE_TRSVCID = 32,
	DLE_SUBNQN = 256,
	DLE_TRADDR = 512,
	DLE_TSAS = 768,
};

static uint16_t get16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t get32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
}

static uint64_t get64(const uint8_t *b, size_t off)
{
	return (uint64_t)get32(b, off) | (uint64_t)get32(b, off + 4) << 32;
}

static void assert_zero_bytes(const uint8_t *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (b[i])
			fail_msg("byte %zu is 0x%02x, want 0", i, b[i]);
}

/* A fixed-size field holding 'text' followed by 'pad' bytes up to 'size'. */
static void assert_padded(const uint8_t *field, size_t size, const char *text, char pad)
{
	size_t n = strlen(text);

	assert_true(n <= size);
	assert_memory_equal(field, text, n);
	for (size_t i = n; i < size; i++)
		if (field[i] != (uint8_t)pad)
			fail_msg("field byte %zu of '%s' is 0x%02x, want 0x%02x", i, text, field[i], (uint8_t)pad);
}

/* Identify pages are sent as bytes: read them through a union, not by casting. */
union id_page {
	uint8_t b[4096];
	struct nvme_id_ctrl ctrl;
	struct nvme_id_ns ns;
};

union disc_entry {
	uint8_t b[1024];
	struct nvmf_disc_log_entry e;
};

#define SUBNQN "nqn.2026-01.io.example:box1"

static struct nvme_ctrl_facts io_facts(void)
{
	return (struct nvme_ctrl_facts){
		.serial = "TR12345",
		.model = "tightrope unit",
		.firmware = "0.1",
		.subnqn = SUBNQN,
		.cntlid = 0x0102,
		.discovery = false,
		.version = 0x00010300, /* 1.3.0: major 31:16, minor 15:08, tertiary 07:00 */
		.mdts = 5,
		.max_nsid = 1024,
		.inline_data_size = 16384,
		.maxcmd = 128,
		.aerl = 3,
		.kas = 50,
		.volatile_write_cache = true,
	};
}

static void test_id_ctrl_strings(void **state)
{
	struct nvme_ctrl_facts f = io_facts();
	union id_page id;

	(void)state;
	memset(&id, 0xa5, sizeof(id));
	nvme_id_ctrl_build(&id.ctrl, &f);
	/* SN, MN and FR are ASCII strings: space padded, no terminator. */
	assert_padded(id.b + IDC_SN, 20, "TR12345", ' ');
	assert_padded(id.b + IDC_MN, 40, "tightrope unit", ' ');
	assert_padded(id.b + IDC_FR, 8, "0.1", ' ');
	/* SUBNQN is a NUL-terminated UTF-8 string; the Linux host compares it with strncmp. */
	assert_padded(id.b + IDC_SUBNQN, 256, SUBNQN, '\0');
	assert_string_equal((const char *)id.b + IDC_SUBNQN, SUBNQN);

	/* Too-long ASCII fields are cut at the field size, not allowed to spill into the next field. */
	union id_page longer;
	f.model = "0123456789012345678901234567890123456789-overflow";
	f.firmware = "123456789";
	nvme_id_ctrl_build(&longer.ctrl, &f);
	assert_memory_equal(longer.b + IDC_MN, f.model, 40);
	assert_memory_equal(longer.b + IDC_FR, f.firmware, 8);
	assert_memory_equal(longer.b, id.b, IDC_MN);
	assert_memory_equal(longer.b + IDC_FR + 8, id.b + IDC_FR + 8, sizeof(id.b) - IDC_FR - 8);

	/* The longest NQN the spec allows (223 bytes) still leaves the field NUL-terminated. */
	char nqn[224];
	memset(nqn, 'x', sizeof(nqn) - 1);
	memcpy(nqn, "nqn.2026-01.io.example:", 23);
	nqn[223] = '\0';
	f.subnqn = nqn;
	nvme_id_ctrl_build(&id.ctrl, &f);
	assert_padded(id.b + IDC_SUBNQN, 256, nqn, '\0');
}

static void test_id_ctrl_io(void **state)
{
	const struct nvme_ctrl_facts f = io_facts();
	union id_page id;
	uint32_t sgls;

	(void)state;
	memset(&id, 0xa5, sizeof(id));
	nvme_id_ctrl_build(&id.ctrl, &f);

	assert_int_equal(id.b[IDC_MDTS], 5);
	assert_int_equal(get16(id.b, IDC_CNTLID), 0x0102);
	assert_int_equal(get32(id.b, IDC_VER), 0x00010300);
	/* Dynamic controller model: the subsystem may have several controllers (CMIC bit 1). */
	assert_true(id.b[IDC_CMIC] & (1u << 1));
	/* OAES bit 8: Namespace Attribute Notices, which the host enables to rescan on AENs. */
	assert_true(get32(id.b, IDC_OAES) & (1u << 8));
	/* CTRATT bit 0: 128-bit Host Identifier, required on fabrics. */
	assert_true(get32(id.b, IDC_CTRATT) & (1u << 0));
	assert_int_equal(id.b[IDC_CNTRLTYPE], 1); /* I/O controller */
	assert_int_equal(id.b[IDC_AERL], 3);
	/* LPA bit 2: extended data for Get Log Page (offsets), used for the discovery log and NUMDU. */
	assert_true(id.b[IDC_LPA] & (1u << 2));
	assert_int_equal(get16(id.b, IDC_KAS), 50);
	/* 64-byte SQEs and 16-byte CQEs, required and maximum: log2 in each nibble. */
	assert_int_equal(id.b[IDC_SQES], 0x66);
	assert_int_equal(id.b[IDC_CQES], 0x44);
	assert_int_equal(get16(id.b, IDC_MAXCMD), 128);
	assert_int_equal(get32(id.b, IDC_NN), 1024);
	/* ONCS: Compare (0), Dataset Management (2), Write Zeroes (3). */
	assert_int_equal(get16(id.b, IDC_ONCS) & 0x0d, 0x0d);
	assert_true(id.b[IDC_VWC] & 1);

	/* SGLS 1:0 = 01b (SGLs supported, no alignment): the Linux host refuses a controller without it.
	 * Bit 20: the offset in SGL Data Block descriptors, which in-capsule data is addressed by. */
	sgls = get32(id.b, IDC_SGLS);
	assert_int_equal(sgls & 3, 1);
	assert_true(sgls & (1u << 20));

	/* Fabrics: IOCCSZ (16-byte units) is the SQE plus in-capsule data; IORCSZ one 16-byte CQE. */
	assert_int_equal(get32(id.b, IDC_IOCCSZ), (64 + 16384) / 16);
	assert_int_equal(get32(id.b, IDC_IORCSZ), 1);
	/* The Linux host refuses a non-zero ICDOFF. */
	assert_int_equal(get16(id.b, IDC_ICDOFF), 0);
	assert_true(id.b[IDC_MSDBD] >= 1);
	/* Reserved areas are zeroed, not left over from the buffer. */
	assert_zero_bytes(id.b, 102, 111);
	assert_zero_bytes(id.b, 1806, 2048);
	assert_zero_bytes(id.b, 3072, 4096);
}

/* The host sizes in-capsule writes from IOCCSZ: it must track the facts exactly. */
static void test_id_ctrl_ioccsz(void **state)
{
	static const uint32_t sizes[] = { 0, 4096, 8192, 16384, 131072 };
	struct nvme_ctrl_facts f = io_facts();
	union id_page id;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		f.inline_data_size = sizes[i];
		nvme_id_ctrl_build(&id.ctrl, &f);
		assert_int_equal(get32(id.b, IDC_IOCCSZ) * 16, 64 + sizes[i]);
	}
	f.volatile_write_cache = false;
	nvme_id_ctrl_build(&id.ctrl, &f);
	assert_false(id.b[IDC_VWC] & 1);
}

static void test_id_ctrl_discovery(void **state)
{
	struct nvme_ctrl_facts f = io_facts();
	union id_page id;

	(void)state;
	f.discovery = true;
	f.subnqn = NVME_DISC_SUBSYS_NQN;
	memset(&id, 0xa5, sizeof(id));
	nvme_id_ctrl_build(&id.ctrl, &f);
	assert_int_equal(id.b[IDC_CNTRLTYPE], 2); /* discovery controller */
	assert_padded(id.b + IDC_SUBNQN, 256, "nqn.2014-08.org.nvmexpress.discovery", '\0');
	/* No namespaces, so nothing to announce about them. */
	assert_int_equal(get32(id.b, IDC_NN), 0);
	assert_false(get32(id.b, IDC_OAES) & (1u << 8));
	/* LPA: extended data only; no SMART per namespace (bit 0), no Commands Supported and
	 * Effects page (bit 1), which the discovery controller rejects. */
	assert_int_equal(id.b[IDC_LPA], 1u << 2);
	assert_int_equal(get32(id.b, IDC_SGLS) & 3, 1);
	assert_int_equal(get32(id.b, IDC_IOCCSZ), 4);
	assert_int_equal(get32(id.b, IDC_IORCSZ), 1);
	assert_int_equal(get16(id.b, IDC_KAS), 50);
	assert_int_equal(get16(id.b, IDC_ICDOFF), 0);
	assert_zero_bytes(id.b, 2048, 4096); /* no power states */
}

/* With ANA: CMIC bits 0, 1 and 3; OAES bit 11; ANATT, ANACAP, ANAGRPMAX and NANAGRPID as given. Without
 * it (the facts above) all of them are zero, and CMIC says only "several controllers". */
static void test_id_ctrl_ana(void **state)
{
	struct nvme_ctrl_facts f = io_facts();
	union id_page id;

	(void)state;
	nvme_id_ctrl_build(&id.ctrl, &f);
	assert_int_equal(id.b[IDC_CMIC], 1u << 1);
	assert_false(get32(id.b, IDC_OAES) & (1u << 11));
	assert_zero_bytes(id.b, IDC_ANATT, IDC_NANAGRPID + 4);

	f.ana = true;
	f.anatt = 10;
	f.anagrpmax = 128;
	memset(&id, 0xa5, sizeof(id));
	nvme_id_ctrl_build(&id.ctrl, &f);
	assert_int_equal(id.b[IDC_CMIC], (1u << 0) | (1u << 1) | (1u << 3));
	assert_true(get32(id.b, IDC_OAES) & (1u << 8));
	assert_true(get32(id.b, IDC_OAES) & (1u << 11));
	assert_int_equal(id.b[IDC_ANATT], 10);
	/* Optimized, non-optimized, inaccessible, persistent loss, change (bits 0-4); bit 6: a
	 * namespace's group never changes while it is attached. */
	assert_int_equal(id.b[IDC_ANACAP], 0x5f);
	assert_int_equal(get32(id.b, IDC_ANAGRPMAX), 128);
	assert_int_equal(get32(id.b, IDC_NANAGRPID), 128);
}

static struct nvme_ns_facts ns_facts(uint8_t lba_shift)
{
	struct nvme_ns_facts f = { .nlbas = 0x123456789ull, .lba_shift = lba_shift, .deallocate = true,
				   .anagrpid = 0 };

	for (int i = 0; i < 16; i++) {
		f.nguid[i] = (uint8_t)(0x10 + i);
		f.uuid[i] = (uint8_t)(0x80 + i);
	}
	for (int i = 0; i < 8; i++)
		f.eui64[i] = (uint8_t)(0x40 + i);
	return f;
}

static void test_id_ns_512(void **state)
{
	const struct nvme_ns_facts f = ns_facts(9);
	union id_page id;

	(void)state;
	memset(&id, 0xa5, sizeof(id));
	nvme_id_ns_build(&id.ns, &f);
	assert_int_equal(get64(id.b, IDN_NSZE), 0x123456789ull);
	assert_int_equal(get64(id.b, IDN_NCAP), 0x123456789ull);
	assert_int_equal(get64(id.b, IDN_NUSE), 0x123456789ull);
	/* One format (NLBAF is 0's based), in use (FLBAS 3:0 = 0), 512-byte blocks without metadata. */
	assert_int_equal(id.b[IDN_NLBAF], 0);
	assert_int_equal(id.b[IDN_FLBAS] & 0x0f, 0);
	assert_int_equal(get16(id.b, IDN_LBAF0), 0); /* MS */
	assert_int_equal(id.b[IDN_LBAF0 + 2], 9); /* LBADS */
	assert_zero_bytes(id.b, IDN_LBAF0 + 4, IDN_LBAF0 + 64 * 4);
	/* NSFEAT bit 4 says NPWG..NOWS are valid; one 4 KiB page is 8 blocks, 0's based 7. */
	assert_true(id.b[IDN_NSFEAT] & (1u << 4));
	assert_int_equal(get16(id.b, IDN_NPWG), 7);
	assert_int_equal(get16(id.b, IDN_NPWA), 7);
	assert_int_equal(get16(id.b, IDN_NPDG), 7);
	assert_int_equal(get16(id.b, IDN_NPDA), 7);
	assert_int_equal(get16(id.b, IDN_NOWS), 7);
	/* DLFEAT 2:0 = 001b: deallocated blocks read as zeroes; bit 3: Write Zeroes may deallocate. */
	assert_int_equal(id.b[IDN_DLFEAT] & 0x7, 1);
	assert_true(id.b[IDN_DLFEAT] & (1u << 3));
	assert_true(id.b[IDN_NMIC] & 1); /* shared: reachable through every controller */
	assert_int_equal(id.b[IDN_NSATTR] & 1, 0);
	assert_memory_equal(id.b + IDN_NGUID, f.nguid, 16);
	assert_memory_equal(id.b + IDN_EUI64, f.eui64, 8);
	assert_int_equal(get32(id.b, IDN_ANAGRPID), 0);
	assert_zero_bytes(id.b, 384, 4096);
}

static void test_id_ns_4k_readonly(void **state)
{
	struct nvme_ns_facts f = ns_facts(12);
	union id_page id;

	(void)state;
	f.readonly = true;
	f.deallocate = false;
	f.anagrpid = 7;
	f.nlbas = 1;
	nvme_id_ns_build(&id.ns, &f);
	assert_int_equal(get64(id.b, IDN_NSZE), 1);
	assert_int_equal(id.b[IDN_LBAF0 + 2], 12);
	/* A 4 KiB block is the whole preferred granularity: 0's based 0. */
	assert_int_equal(get16(id.b, IDN_NPWG), 0);
	assert_int_equal(get16(id.b, IDN_NOWS), 0);
	assert_int_equal(id.b[IDN_NSATTR] & 1, 1); /* write protected */
	assert_int_equal(id.b[IDN_DLFEAT], 0); /* nothing promised about deallocated blocks */
	assert_int_equal(get32(id.b, IDN_ANAGRPID), 7);
}

/* NIDL each NIDT must carry (base spec: EUI64 8, NGUID 16, UUID 16, CSI 1). */
static int expected_nidl(uint8_t nidt)
{
	switch (nidt) {
	case 1: return 8;
	case 2: return 16;
	case 3: return 16;
	case 4: return 1;
	default: return -1;
	}
}

static void test_ns_desc_list(void **state)
{
	const struct nvme_ns_facts f = ns_facts(9);
	uint8_t buf[4096];
	bool seen[5] = { false };
	size_t off = 0;

	(void)state;
	memset(buf, 0xa5, sizeof(buf));
	nvme_ns_desc_list_build(buf, sizeof(buf), &f);
	/* Walk it as a host does: NIDT, NIDL, 2 reserved bytes, NIDL bytes of ID; NIDL 0 ends the list. */
	while (off + 4 <= sizeof(buf) && buf[off + 1] != 0) {
		uint8_t nidt = buf[off], nidl = buf[off + 1];
		const uint8_t *id = buf + off + 4;

		if (expected_nidl(nidt) != nidl)
			fail_msg("descriptor at %zu: NIDT %u with NIDL %u", off, nidt, nidl);
		assert_false(seen[nidt]);
		seen[nidt] = true;
		assert_int_equal(get16(buf, off + 2), 0);
		switch (nidt) {
		case 1: assert_memory_equal(id, f.eui64, 8); break;
		case 2: assert_memory_equal(id, f.nguid, 16); break;
		case 3: assert_memory_equal(id, f.uuid, 16); break;
		case 4: assert_int_equal(id[0], 0); break; /* NVM command set */
		}
		off += 4 + nidl;
	}
	assert_true(seen[1] && seen[2] && seen[3]);
	/* Terminated, and nothing but zeroes after the last descriptor. */
	assert_zero_bytes(buf, off, sizeof(buf));
}

/* Whatever the buffer size, the builder must stay inside it and only emit whole descriptors. */
static void test_ns_desc_list_small_buffer(void **state)
{
	const struct nvme_ns_facts f = ns_facts(9);

	(void)state;
	for (size_t len = 0; len <= 64; len++) {
		uint8_t *buf = malloc(len + 16);
		size_t off = 0;

		assert_non_null(buf);
		memset(buf, 0xcc, len + 16);
		nvme_ns_desc_list_build(buf, len, &f);
		for (size_t i = len; i < len + 16; i++)
			if (buf[i] != 0xcc)
				fail_msg("len %zu: byte %zu past the buffer written", len, i);
		while (off + 4 <= len && buf[off + 1] != 0) {
			assert_int_equal(expected_nidl(buf[off]), buf[off + 1]);
			off += 4 + buf[off + 1];
			assert_true(off <= len);
		}
		assert_zero_bytes(buf, off, len);
		free(buf);
	}
}

static struct nvmf_disc_entry_facts disc_facts(void)
{
	return (struct nvmf_disc_entry_facts){
		.subnqn = SUBNQN,
		.traddr = "192.168.10.20",
		.trsvcid = "4420",
		.subtype = 2, /* NVM subsystem */
		.ipv6 = false,
		.portid = 0x0203,
		.asqsz = 32,
		.treq = 4, /* SQ flow control disable supported */
	};
}

static void test_disc_entry_ipv4(void **state)
{
	const struct nvmf_disc_entry_facts f = disc_facts();
	union disc_entry e;

	(void)state;
	assert_int_equal(sizeof(struct nvmf_disc_log_entry), 1024);
	memset(&e, 0xa5, sizeof(e));
	nvmf_disc_entry_build(&e.e, &f);
	assert_int_equal(e.b[DLE_TRTYPE], 3); /* TCP */
	assert_int_equal(e.b[DLE_ADRFAM], 1); /* IPv4 */
	assert_int_equal(e.b[DLE_SUBTYPE], 2);
	assert_int_equal(e.b[DLE_TREQ], 4);
	assert_int_equal(get16(e.b, DLE_PORTID), 0x0203);
	assert_int_equal(get16(e.b, DLE_CNTLID), 0xffff); /* dynamic controller model */
	assert_int_equal(get16(e.b, DLE_ASQSZ), 32);
	assert_int_equal(get16(e.b, DLE_EFLAGS), 0);
	assert_zero_bytes(e.b, 12, DLE_TRSVCID);
	/* TRSVCID and TRADDR are ASCII strings: space padded. SUBNQN is NUL terminated. */
	assert_padded(e.b + DLE_TRSVCID, 32, "4420", ' ');
	assert_zero_bytes(e.b, 64, DLE_SUBNQN);
	assert_padded(e.b + DLE_SUBNQN, 256, SUBNQN, '\0');
	assert_padded(e.b + DLE_TRADDR, 256, "192.168.10.20", ' ');
	/* TSAS for TCP: SECTYPE 0, no security; the rest reserved. */
	assert_zero_bytes(e.b, DLE_TSAS, 1024);
}

static void test_disc_entry_ipv6_current(void **state)
{
	struct nvmf_disc_entry_facts f = disc_facts();
	union disc_entry e;

	(void)state;
	f.ipv6 = true;
	f.traddr = "fd00::1";
	f.trsvcid = "8009";
	f.subtype = 3; /* current discovery subsystem */
	f.subnqn = NVME_DISC_SUBSYS_NQN;
	nvmf_disc_entry_build(&e.e, &f);
	assert_int_equal(e.b[DLE_ADRFAM], 2);
	assert_int_equal(e.b[DLE_SUBTYPE], 3);
	/* Entries for the current discovery subsystem carry DUPRETINFO (EFLAGS bit 0), as nvmet's do. */
	assert_true(get16(e.b, DLE_EFLAGS) & 1);
	assert_padded(e.b + DLE_TRADDR, 256, "fd00::1", ' ');
	assert_padded(e.b + DLE_TRSVCID, 32, "8009", ' ');
	assert_padded(e.b + DLE_SUBNQN, 256, "nqn.2014-08.org.nvmexpress.discovery", '\0');
}

static void test_strpad(void **state)
{
	char buf[12];

	(void)state;
	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, "abc", ' ');
	assert_memory_equal(buf, "abc     ##", 10);

	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, "abcdefgh", ' ');
	assert_memory_equal(buf, "abcdefgh##", 10);

	/* Longer than the field: cut, not overrun. */
	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, "abcdefghijkl", ' ');
	assert_memory_equal(buf, "abcdefgh##", 10);

	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, "ab", '\0');
	assert_memory_equal(buf, "ab\0\0\0\0\0\0##", 10);

	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, NULL, ' ');
	assert_memory_equal(buf, "        ##", 10);

	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, "", '\0');
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0##", 10);

	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 0, "abc", ' ');
	assert_memory_equal(buf, "##", 2);

	/* A source that fills the field needs no terminator: nothing past 'size' bytes is read
	 * (ASan builds catch an over-read of this heap copy). */
	char *src = malloc(8);
	assert_non_null(src);
	memcpy(src, "ABCDEFGH", 8);
	memset(buf, '#', sizeof(buf));
	nvme_strpad(buf, 8, src, ' ');
	assert_memory_equal(buf, "ABCDEFGH##", 10);
	free(src);
}

static void test_copy_window(void **state)
{
	uint8_t page[100], dst[160], want[160];

	(void)state;
	for (int i = 0; i < 100; i++)
		page[i] = (uint8_t)(i + 1);

#define WINDOW(len, offset, from, take)                                                    \
	do {                                                                                \
		memset(dst, 0xee, sizeof(dst));                                             \
		memset(want, 0xee, sizeof(want));                                           \
		memset(want, 0, (len));                                                     \
		if (take)                                                                   \
			memcpy(want, page + (from), (take));                                \
		nvme_copy_window(dst, (len), page, sizeof(page), (offset));                 \
		assert_memory_equal(dst, want, sizeof(dst));                                \
	} while (0)

	WINDOW(100, 0, 0, 100); /* whole page */
	WINDOW(10, 5, 5, 10); /* a slice inside */
	WINDOW(150, 0, 0, 100); /* asked for more than there is: zeroes after the page */
	WINDOW(20, 90, 90, 10); /* straddling the end */
	WINDOW(20, 99, 99, 1);
	WINDOW(20, 100, 0, 0); /* right at the end: all zeroes */
	WINDOW(20, 1000, 0, 0); /* well beyond it */
	WINDOW(20, UINT64_MAX, 0, 0); /* an offset no size_t arithmetic may wrap into range */
	WINDOW(20, (1ull << 32) + 5, 0, 0); /* would alias offset 5 if truncated to 32 bits */
	WINDOW(0, 0, 0, 0); /* nothing asked, nothing touched */
#undef WINDOW
}

static void test_derive_id(void **state)
{
	static const uint8_t zero[16];
	uint8_t a[16], b[16], u1[16];

	(void)state;
	/* Stable: the same NQN and number always give the same ID, so hosts see the same disk after restart. */
	nvme_derive_id(a, SUBNQN, 1, false);
	nvme_derive_id(b, SUBNQN, 1, false);
	assert_memory_equal(a, b, 16);
	assert_memory_not_equal(a, zero, 16);

	nvme_derive_id(b, SUBNQN, 2, false);
	assert_memory_not_equal(a, b, 16);
	nvme_derive_id(b, "nqn.2026-01.io.example:box2", 1, false);
	assert_memory_not_equal(a, b, 16);
	nvme_derive_id(b, "", 1, false);
	assert_memory_not_equal(a, b, 16);

	/* As a UUID: version in the high nibble of byte 6, RFC 4122 variant 10b in byte 8; nothing else changes. */
	for (uint32_t n = 1; n <= 64; n++) {
		nvme_derive_id(a, SUBNQN, n, false);
		nvme_derive_id(u1, SUBNQN, n, true);
		assert_int_equal(u1[6] >> 4, 8);
		assert_int_equal(u1[8] & 0xc0, 0x80);
		for (int i = 0; i < 16; i++) {
			uint8_t keep = i == 6 ? 0x0f : i == 8 ? 0x3f : 0xff;

			assert_int_equal(u1[i] & keep, a[i] & keep);
		}
	}

	/* 16 bytes must not be one 4-byte value repeated. */
	nvme_derive_id(a, SUBNQN, 1, false);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(a + 4 * i, a + 4 * j, 4);

	/* Namespace IDs must not collide within a subsystem, nor an NSID with the tagged numbers
	 * target.c derives NGUID and EUI-64 from. */
	enum { N = 512 };
	static uint8_t ids[3 * N][16];
	for (uint32_t n = 0; n < N; n++) {
		nvme_derive_id(ids[n], SUBNQN, n + 1, false);
		nvme_derive_id(ids[N + n], SUBNQN, (n + 1) | 0x80000000u, false);
		nvme_derive_id(ids[2 * N + n], SUBNQN, (n + 1) | 0x40000000u, false);
	}
	for (int i = 0; i < 3 * N; i++)
		for (int j = 0; j < i; j++)
			if (!memcmp(ids[i], ids[j], 16))
				fail_msg("derived IDs %d and %d collide", i, j);
	/* EUI-64 uses only the first 8 bytes: those must be unique too. */
	for (int i = 2 * N; i < 3 * N; i++)
		for (int j = 2 * N; j < i; j++)
			if (!memcmp(ids[i], ids[j], 8))
				fail_msg("EUI-64 halves %d and %d collide", i, j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_ctrl_strings),
		cmocka_unit_test(test_id_ctrl_io),
		cmocka_unit_test(test_id_ctrl_ioccsz),
		cmocka_unit_test(test_id_ctrl_discovery),
		cmocka_unit_test(test_id_ctrl_ana),
		cmocka_unit_test(test_id_ns_512),
		cmocka_unit_test(test_id_ns_4k_readonly),
		cmocka_unit_test(test_ns_desc_list),
		cmocka_unit_test(test_ns_desc_list_small_buffer),
		cmocka_unit_test(test_disc_entry_ipv4),
		cmocka_unit_test(test_disc_entry_ipv6_current),
		cmocka_unit_test(test_strpad),
		cmocka_unit_test(test_copy_window),
		cmocka_unit_test(test_derive_id),
	};

	return cmocka_run_group_tests_name("identify", tests, NULL, NULL);
}
