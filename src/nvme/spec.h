/* NVMe base and NVMe-oF wire structures and constants (little-endian on the wire).
 * Layouts follow the NVMe 2.0 base spec and the NVMe-oF 1.1 spec; every struct is size-checked. */
#ifndef TIGHTROPE_NVME_SPEC_H
#define TIGHTROPE_NVME_SPEC_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "tightrope/nvme.h" /* the layouts the public host API shares: commands, Identify, discovery */

/* Wire structs are read in place, so the host must share the wire's byte order. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tightrope reads wire structs in place and needs a little-endian host"
#endif

#define NVME_STATIC_SIZE(type, size) static_assert(sizeof(type) == (size), #type " size")
#define NVME_STATIC_OFFSET(type, field, off) \
	static_assert(offsetof(type, field) == (off), #type "." #field " offset")

/* The public layouts of tightrope/nvme.h, checked here where every build of the library sees them. */
NVME_STATIC_SIZE(struct nvme_sgl_desc, 16);
NVME_STATIC_SIZE(struct nvme_command, 64);
NVME_STATIC_OFFSET(struct nvme_command, dptr, 24);
NVME_STATIC_OFFSET(struct nvme_command, cdw10, 40);
NVME_STATIC_SIZE(struct nvme_completion, 16);
NVME_STATIC_OFFSET(struct nvme_completion, command_id, 12);
NVME_STATIC_SIZE(struct nvme_id_power_state, 32);
NVME_STATIC_SIZE(struct nvme_id_ctrl, 4096);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, sn, 4);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, mn, 24);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, fr, 64);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, mdts, 77);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, cntlid, 78);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, oaes, 92);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, cntrltype, 111);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, oacs, 256);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, kas, 320);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, anatt, 342);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, sqes, 512);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, nn, 516);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, sgls, 536);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, subnqn, 768);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, ioccsz, 1792);
NVME_STATIC_OFFSET(struct nvme_id_ctrl, psd, 2048);
NVME_STATIC_SIZE(struct nvme_lbaf, 4);
NVME_STATIC_SIZE(struct nvme_id_ns, 4096);
NVME_STATIC_OFFSET(struct nvme_id_ns, nsfeat, 24);
NVME_STATIC_OFFSET(struct nvme_id_ns, dlfeat, 33);
NVME_STATIC_OFFSET(struct nvme_id_ns, npwg, 64);
NVME_STATIC_OFFSET(struct nvme_id_ns, anagrpid, 92);
NVME_STATIC_OFFSET(struct nvme_id_ns, nsattr, 99);
NVME_STATIC_OFFSET(struct nvme_id_ns, nguid, 104);
NVME_STATIC_OFFSET(struct nvme_id_ns, eui64, 120);
NVME_STATIC_OFFSET(struct nvme_id_ns, lbaf, 128);
NVME_STATIC_SIZE(struct nvmf_disc_log_entry, 1024);
NVME_STATIC_OFFSET(struct nvmf_disc_log_entry, trsvcid, 32);
NVME_STATIC_OFFSET(struct nvmf_disc_log_entry, subnqn, 256);
NVME_STATIC_OFFSET(struct nvmf_disc_log_entry, traddr, 512);

/* Well-known NQNs and sizes (NVME_NQN_SIZE, NVMF_TRADDR_SIZE, NVMF_TRSVCID_SIZE: tightrope/nvme.h). */
#define NVME_DISC_SUBSYS_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define NVME_NQN_MIN_LEN 11 /* "nqn.yyyy-mm" */
#define NVME_NQN_MAX_LEN 223 /* bytes before the NUL, by the spec */
#define NVME_NQN_PREFIX "nqn."

/* ---- Submission / completion queue entries (struct nvme_command, nvme_completion: tightrope/nvme.h) ---- */

/* SGL identifiers used by NVMe/TCP (type << 4 | subtype). */
#define NVME_SGL_DATA_BLOCK_OFFSET 0x01 /* in-capsule data, addr is an offset */
#define NVME_SGL_TRANSPORT_DATA_BLOCK 0x5a /* data moved by C2HData / R2T+H2CData */

#define NVME_CMD_PSDT_MASK 0xc0
#define NVME_CMD_PSDT_SGL 0x40 /* SGLs for data, metadata is a contiguous buffer */
/* FUSE (CDW0 bits 9:8): normal, the first or the second command of a fused operation; 3 is reserved. */
#define NVME_CMD_FUSE_MASK 0x03
#define NVME_CMD_FUSE_FIRST 0x01
#define NVME_CMD_FUSE_SECOND 0x02

/* Namespace IDs with a meaning of their own. */
#define NVME_NSID_ALL 0xffffffffu /* broadcast: every namespace */

/* Queue entry sizes, as log2 of bytes: what CC.IOSQES/IOCQES must say and Identify's SQES/CQES. */
#define NVME_SQES_LOG2 6 /* 64-byte SQE */
#define NVME_CQES_LOG2 4 /* 16-byte CQE */

/* Fabrics commands reuse opcode 0x7f with a fabrics type at byte 4. */
struct nvmf_common_command {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct nvme_sgl_desc dptr;
	uint8_t specific[24];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvmf_common_command, 64);

/* Authentication Send (fctype 05h) and Receive (06h): a security protocol message of tl / al bytes. */
struct nvmf_auth_command {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct nvme_sgl_desc dptr;
	uint8_t rsvd3;
	uint8_t spsp0; /* security protocol specific: 01h, 01h for DH-HMAC-CHAP */
	uint8_t spsp1;
	uint8_t secp; /* security protocol: E9h, NVMe in-band authentication */
	uint32_t len; /* tl (Send) or al (Receive) */
	uint8_t rsvd4[16];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvmf_auth_command, 64);
NVME_STATIC_OFFSET(struct nvmf_auth_command, secp, 43);
#define NVME_AUTH_SECP_INBAND 0xe9
#define NVME_AUTH_SPSP 0x01

/* Connect's result: the controller asks the host to authenticate (AUTHREQ.ATR), or to
 * authenticate and then start a secure channel (ASCR). */
#define NVME_CONNECT_AUTHREQ_ATR (1u << 17)
#define NVME_CONNECT_AUTHREQ_ASCR (1u << 18)

struct nvmf_connect_command {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t rsvd2[19];
	struct nvme_sgl_desc dptr;
	uint16_t recfmt;
	uint16_t qid;
	uint16_t sqsize; /* 0-based */
	uint8_t cattr;
	uint8_t rsvd3;
	uint32_t kato; /* milliseconds */
	uint8_t rsvd4[12];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvmf_connect_command, 64);
NVME_STATIC_OFFSET(struct nvmf_connect_command, recfmt, 40);
NVME_STATIC_OFFSET(struct nvmf_connect_command, qid, 42);
NVME_STATIC_OFFSET(struct nvmf_connect_command, sqsize, 44);
NVME_STATIC_OFFSET(struct nvmf_connect_command, kato, 48);

struct nvmf_connect_data {
	uint8_t hostid[16];
	uint16_t cntlid;
	uint8_t rsvd4[238];
	char subsysnqn[NVME_NQN_SIZE];
	char hostnqn[NVME_NQN_SIZE];
	uint8_t rsvd5[256];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvmf_connect_data, 1024);
NVME_STATIC_OFFSET(struct nvmf_connect_data, cntlid, 16);
NVME_STATIC_OFFSET(struct nvmf_connect_data, subsysnqn, 256);
NVME_STATIC_OFFSET(struct nvmf_connect_data, hostnqn, 512);

struct nvmf_property_command {
	uint8_t opcode;
	uint8_t rsvd1;
	uint16_t command_id;
	uint8_t fctype;
	uint8_t rsvd2[35];
	uint8_t attrib; /* NVMF_PROP_ATTR_8BYTE or 0 (4-byte) */
	uint8_t rsvd3[3];
	uint32_t offset;
	uint64_t value; /* Property Set only */
	uint8_t rsvd4[8];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvmf_property_command, 64);
NVME_STATIC_OFFSET(struct nvmf_property_command, attrib, 40);
NVME_STATIC_OFFSET(struct nvmf_property_command, offset, 44);
NVME_STATIC_OFFSET(struct nvmf_property_command, value, 48);
#define NVMF_PROP_ATTR_8BYTE (1u << 0)

/* Connect's CATTR. */
#define NVMF_CONNECT_CATTR_DISABLE_SQFLOW (1u << 2)

/* ---- Opcodes (admin and I/O: tightrope/nvme.h) ---- */

enum nvmf_fabrics_type {
	nvmf_type_property_set = 0x00,
	nvmf_type_connect = 0x01,
	nvmf_type_property_get = 0x04,
	nvmf_type_auth_send = 0x05,
	nvmf_type_auth_receive = 0x06,
	nvmf_type_disconnect = 0x08,
};

/* Read/Write/Compare/Write Zeroes: SLBA in cdw10-11, NLB (0-based) in cdw12 15:0. */
#define NVME_RW_NLB(cdw12) (((cdw12) & 0xffffu) + 1) /* blocks, 1-based */
#define NVME_RW_FUA (1u << 30)
#define NVME_WZ_DEAC (1u << 25)
/* Dataset Management: cdw10 7:0 = number of ranges - 1, cdw11 bit 2 = deallocate. */
#define NVME_DSM_NR(cdw10) (((cdw10) & 0xffu) + 1) /* ranges, 1-based */
#define NVME_DSMGMT_AD (1u << 2)
struct nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_dsm_range, 16);
#define NVME_DSM_MAX_RANGES 256

/* ---- Status codes: (SCT << 8) | SC, as the kernel writes them; DNR is bit 14. ---- */
enum nvme_status {
	NVME_SC_SUCCESS = 0x000,
	NVME_SC_INVALID_OPCODE = 0x001,
	NVME_SC_INVALID_FIELD = 0x002,
	NVME_SC_CMDID_CONFLICT = 0x003,
	NVME_SC_DATA_XFER_ERROR = 0x004,
	NVME_SC_INTERNAL = 0x006,
	NVME_SC_ABORT_REQ = 0x007,
	NVME_SC_ABORT_QUEUE = 0x008,
	NVME_SC_FUSED_FAIL = 0x009, /* Command Aborted due to Failed Fused Command */
	NVME_SC_FUSED_MISSING = 0x00a, /* Command Aborted due to Missing Fused Command */
	NVME_SC_INVALID_NS = 0x00b,
	NVME_SC_CMD_SEQ_ERROR = 0x00c,
	NVME_SC_SGL_INVALID_DATA = 0x00f, /* Data SGL Length Invalid */
	NVME_SC_SGL_INVALID_TYPE = 0x011,
	NVME_SC_SGL_INVALID_OFFSET = 0x016,
	NVME_SC_KA_TIMEOUT_INVALID = 0x01a,
	NVME_SC_NS_WRITE_PROTECTED = 0x020,
	NVME_SC_TRANSIENT_TR_ERR = 0x022, /* e.g. a data digest mismatch */
	NVME_SC_LBA_RANGE = 0x080,
	NVME_SC_CAP_EXCEEDED = 0x081,
	NVME_SC_NS_NOT_READY = 0x082,

	NVME_SC_QID_INVALID = 0x101,
	NVME_SC_QUEUE_SIZE = 0x102,
	NVME_SC_ASYNC_LIMIT = 0x105,
	NVME_SC_INVALID_LOG_PAGE = 0x109,
	NVME_SC_FEATURE_NOT_SAVEABLE = 0x10d,
	NVME_SC_FEATURE_NOT_CHANGEABLE = 0x10e,
	NVME_SC_CONNECT_FORMAT = 0x180,
	NVME_SC_CONNECT_CTRL_BUSY = 0x181,
	NVME_SC_CONNECT_INVALID_PARAM = 0x182,
	NVME_SC_CONNECT_RESTART_DISC = 0x183,
	NVME_SC_CONNECT_INVALID_HOST = 0x184,
	NVME_SC_AUTH_REQUIRED = 0x191, /* the queue has not authenticated yet */

	NVME_SC_WRITE_FAULT = 0x280,
	NVME_SC_READ_ERROR = 0x281,
	NVME_SC_COMPARE_FAILED = 0x285,
	NVME_SC_ACCESS_DENIED = 0x286,
	/* Path related (SCT 3h): what a namespace answers on a path whose ANA group says so. */
	NVME_SC_ANA_PERSISTENT_LOSS = 0x301,
	NVME_SC_ANA_INACCESSIBLE = 0x302,
	NVME_SC_ANA_TRANSITION = 0x303,
	NVME_SC_HOST_PATH_ERROR = 0x370,

	NVME_SC_DNR = 0x4000,
};
#define NVME_SC_MASK 0x7ff /* SCT and SC, without CRD, More and DNR */

/* The status without DNR (and CRD, More): what compares against an NVME_SC_* code. */
static inline uint16_t nvme_status_code(uint16_t status)
{
	return status & NVME_SC_MASK;
}

/* A CQE's status field carries the phase tag in bit 0 and the status above it. */
static inline uint16_t nvme_cqe_status(uint16_t field)
{
	return field >> 1;
}

static inline uint16_t nvme_cqe_status_field(uint16_t status)
{
	return (uint16_t)(status << 1);
}

/* Connect failure: the result names the bad field (IATTR 0 = command, 1 = connect data). */
#define NVMF_IPO_IATTR(iattr, offset) (((uint32_t)(iattr) << 16) | (uint16_t)(offset))

/* ---- Controller properties (registers) ---- */
enum {
	NVME_REG_CAP = 0x00,
	NVME_REG_VS = 0x08,
	NVME_REG_CC = 0x14,
	NVME_REG_CSTS = 0x1c,
	NVME_REG_NSSR = 0x20,
};
#define NVME_VS(major, minor, tertiary) (((major) << 16) | ((minor) << 8) | (tertiary))
/* CAP: MQES 15:0 (0-based), CQR 16, TO 31:24 (500 ms units), CSS 44:37, MPSMIN 51:48, MPSMAX 55:52. */
#define NVME_CAP_MQES(entries) ((uint64_t)((entries) - 1) & 0xffffu)
#define NVME_CAP_CQR (1ull << 16)
#define NVME_CAP_TO(half_seconds) ((uint64_t)((half_seconds) & 0xff) << 24)
#define NVME_CAP_CSS_NVM (1ull << 37)
#define NVME_CC_ENABLE (1u << 0)
#define NVME_CC_SHN_MASK (3u << 14)
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_IOSQES(cc) (((cc) >> 16) & 0xf)
#define NVME_CC_IOCQES(cc) (((cc) >> 20) & 0xf)
#define NVME_CC_MPS(cc) (((cc) >> 7) & 0xf)
#define NVME_CC_CSS(cc) (((cc) >> 4) & 0x7)
#define NVME_CC_CSS_NVM 0
#define NVME_CC_MPS_4K 0 /* 2 ^ (12 + MPS) bytes */
#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)
#define NVME_CSTS_SHST_CMPLT (2u << 2)
#define NVME_CSTS_SHST_MASK (3u << 2)

/* ---- Identify (the CNS values, struct nvme_id_ctrl and nvme_id_ns: tightrope/nvme.h) ---- */
#define NVME_CSI_NVM 0
/* Identify: CNS in cdw10 7:0, CSI in cdw11 31:24; every data structure it returns is 4 KiB. */
#define NVME_IDENTIFY_CNS(cdw10) ((uint8_t)((cdw10) & 0xff))
#define NVME_IDENTIFY_CSI(cdw11) ((uint8_t)((cdw11) >> 24))
#define NVME_IDENTIFY_DATA_SIZE 4096
#define NVME_ID_NS_LIST_MAX (NVME_IDENTIFY_DATA_SIZE / 4) /* NSIDs in an active namespace list */

#define NVME_CTRL_OAES_NS_ATTR (1u << 8)
#define NVME_CTRL_OAES_ANA_CHANGE (1u << 11)
#define NVME_CTRL_CTRATT_128_ID (1u << 0) /* 128-bit host identifier */
#define NVME_CTRL_LPA_SMART_PER_NS (1u << 0)
#define NVME_CTRL_LPA_CMD_EFFECTS (1u << 1)
#define NVME_CTRL_LPA_EXTENDED (1u << 2)
#define NVME_CTRL_ONCS_COMPARE (1u << 0)
#define NVME_CTRL_FUSES_COMPARE_WRITE (1u << 0) /* FUSES: Compare and Write as a fused operation */
#define NVME_CTRL_ONCS_DSM (1u << 2)
#define NVME_CTRL_ONCS_WRITE_ZEROES (1u << 3)
#define NVME_CTRL_ONCS_RESERVATIONS (1u << 5)
#define NVME_CTRL_VWC_PRESENT (1u << 0)
#define NVME_CTRL_SGLS_SUPPORTED (1u << 0)
#define NVME_CTRL_SGLS_KEYED (1u << 2)
#define NVME_CTRL_SGLS_OFFSETS (1u << 20)
#define NVME_CTRL_CMIC_MULTI_PORT (1u << 0)
#define NVME_CTRL_CMIC_MULTI_CTRL (1u << 1)
#define NVME_CTRL_CMIC_ANA (1u << 3) /* ANA reporting */
/* ANACAP: which ANA states the controller reports; bit 6: a namespace's ANAGRPID does not change
 * while attached; bit 7: a non-zero ANAGRPID is supported in Namespace Management (unused here). */
#define NVME_CTRL_ANACAP_OPT (1u << 0)
#define NVME_CTRL_ANACAP_NON_OPT (1u << 1)
#define NVME_CTRL_ANACAP_INACCESSIBLE (1u << 2)
#define NVME_CTRL_ANACAP_PERSISTENT_LOSS (1u << 3)
#define NVME_CTRL_ANACAP_CHANGE (1u << 4)
#define NVME_CTRL_ANACAP_GRPID_NO_CHG (1u << 6)
#define NVME_CTRL_CNTRLTYPE_IO 1
#define NVME_CTRL_CNTRLTYPE_DISC 2
#define NVME_CTRL_FRMW_SLOT1_RO (1u << 0)
#define NVME_CTRL_FRMW_SLOTS(n) ((n) << 1)
#define NVME_CTRL_QES(max_log2, min_log2) (((max_log2) << 4) | (min_log2)) /* SQES and CQES */
#define NVME_CTRL_CAPSULE_UNIT 16 /* IOCCSZ and IORCSZ count 16-byte units */
#define NVME_CNTLID_MAX 0xffef /* controller IDs are 1..FFEFh; above are reserved or special */

#define NVME_NS_FEAT_THIN (1u << 0)
#define NVME_NS_FEAT_IO_OPT (1u << 4)
#define NVME_NS_DLFEAT_WRITE_ZEROES (1u << 3)
#define NVME_NS_DLFEAT_READ_ZEROES 0x1
#define NVME_NS_NMIC_SHARED (1u << 0) /* may be attached to more than one controller */
#define NVME_NS_NSATTR_WRITE_PROTECTED (1u << 0)

/* Namespace identification descriptor list (CNS 03h): 4096 bytes of these, then zeros. */
struct nvme_ns_id_desc {
	uint8_t nidt;
	uint8_t nidl;
	uint16_t rsvd;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_ns_id_desc, 4);
enum {
	NVME_NIDT_EUI64 = 0x01,
	NVME_NIDT_NGUID = 0x02,
	NVME_NIDT_UUID = 0x03,
	NVME_NIDT_CSI = 0x04,
};

/* ---- Log pages (the log IDs: tightrope/nvme.h) ---- */
/* Get Log Page: LID in cdw10 7:0, NUMD (0-based dwords) split over cdw10 31:16 and cdw11 15:0,
 * the offset in cdw12-13, which must be dword-aligned. */
#define NVME_LOG_LID(cdw10) ((uint8_t)((cdw10) & 0xff))
#define NVME_LOG_NUMD(cdw10, cdw11) (((cdw10) >> 16) | (((cdw11) & 0xffffu) << 16))
#define NVME_LOG_OFFSET_ALIGN 4
#define NVME_LOG_RAE (1u << 15) /* Retain Asynchronous Event, cdw10 */
#define NVME_LOG_LSP(cdw10) (((cdw10) >> 8) & 0x7f) /* Log Specific Parameter, cdw10 14:8 */

struct nvme_error_log_entry {
	uint64_t error_count;
	uint16_t sqid;
	uint16_t cmdid;
	uint16_t status_field;
	uint16_t param_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs;
	uint8_t trtype;
	uint8_t rsvd30[2];
	uint64_t cs;
	uint16_t trtype_spec_info;
	uint8_t rsvd42[21];
	uint8_t log_page_version;
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_error_log_entry, 64);

struct nvme_smart_log {
	uint8_t critical_warning;
	uint8_t temperature[2];
	uint8_t avail_spare;
	uint8_t spare_thresh;
	uint8_t percent_used;
	uint8_t endu_grp_crit_warn_sumry;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16];
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint32_t warning_temp_time;
	uint32_t critical_comp_time;
	uint16_t temp_sensor[8];
	uint32_t thm_temp1_trans_count;
	uint32_t thm_temp2_trans_count;
	uint32_t thm_temp1_total_time;
	uint32_t thm_temp2_total_time;
	uint8_t rsvd232[280];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_smart_log, 512);
NVME_STATIC_OFFSET(struct nvme_smart_log, data_units_read, 32);
NVME_STATIC_OFFSET(struct nvme_smart_log, host_reads, 64);

struct nvme_fw_slot_log {
	uint8_t afi;
	uint8_t rsvd1[7];
	char frs[7][8];
	uint8_t rsvd64[448];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_fw_slot_log, 512);

#define NVME_CHANGED_NS_MAX 1024
struct nvme_changed_ns_log {
	uint32_t nsid[NVME_CHANGED_NS_MAX]; /* NVME_CHANGED_NS_OVERFLOW in entry 0: more than 1024 changed */
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_changed_ns_log, 4096);

/* Reservation Notification log page (80h): one notice per read, the oldest first. */
struct nvme_resv_notify_log {
	uint64_t count; /* increments with every notice, lost ones too: a gap says some were lost */
	uint8_t type; /* enum nvme_resv_notice */
	uint8_t nr_pages; /* notices still waiting after this one */
	uint8_t rsvd10[2];
	uint32_t nsid;
	uint8_t rsvd16[48];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_resv_notify_log, 64);
#define NVME_CHANGED_NS_OVERFLOW 0xffffffffu

/* Asymmetric Namespace Access log page (LID 0Ch): this header, then one descriptor per ANA group,
 * each followed by its NNSID namespace IDs (none when the host sets RGO in the LSP). */
struct nvme_ana_log_header {
	uint64_t chgcnt;
	uint16_t ngrps;
	uint16_t rsvd10[3];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_ana_log_header, 16);

struct nvme_ana_group_desc {
	uint32_t grpid;
	uint32_t nnsids;
	uint64_t chgcnt;
	uint8_t state;
	uint8_t rsvd17[15];
	uint32_t nsids[];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_ana_group_desc, 32);

enum nvme_ana_state {
	NVME_ANA_OPTIMIZED = 0x01,
	NVME_ANA_NONOPTIMIZED = 0x02,
	NVME_ANA_INACCESSIBLE = 0x03,
	NVME_ANA_PERSISTENT_LOSS = 0x04,
	NVME_ANA_CHANGE = 0x0f,
};
#define NVME_ANA_LOG_RGO (1u << 0) /* LSP: return groups only, no NSID lists */

/* The ANA states as nvmet's configfs and nvme-cli name them; NULL for any other value. */
static inline const char *nvme_ana_state_name(uint8_t state)
{
	switch (state) {
	case NVME_ANA_OPTIMIZED: return "optimized";
	case NVME_ANA_NONOPTIMIZED: return "non-optimized";
	case NVME_ANA_INACCESSIBLE: return "inaccessible";
	case NVME_ANA_PERSISTENT_LOSS: return "persistent-loss";
	case NVME_ANA_CHANGE: return "change";
	default: return NULL;
	}
}

struct nvme_effects_log {
	uint32_t acs[256];
	uint32_t iocs[256];
	uint8_t rsvd[2048];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvme_effects_log, 4096);
#define NVME_CMD_EFFECTS_CSUPP (1u << 0)
#define NVME_CMD_EFFECTS_LBCC (1u << 1)
#define NVME_CMD_EFFECTS_NCC (1u << 2)
#define NVME_CMD_EFFECTS_NIC (1u << 3)

/* Discovery log page (LID 70h): a 1024-byte header, then 1024-byte entries (tightrope/nvme.h). */
struct nvmf_disc_log_header {
	uint64_t genctr;
	uint64_t numrec;
	uint16_t recfmt;
	uint8_t rsvd14[1006];
} __attribute__((packed));
NVME_STATIC_SIZE(struct nvmf_disc_log_header, 1024);

enum {
	NVMF_TRTYPE_TCP = 3,
	NVMF_ADRFAM_IP4 = 1,
	NVMF_ADRFAM_IP6 = 2,
	NVMF_SUBTYPE_DISCOVERY = 1, /* referral to another discovery service */
	NVMF_SUBTYPE_NVME = 2,
	NVMF_SUBTYPE_CURRENT_DISCOVERY = 3,
	NVMF_TREQ_NOT_SPECIFIED = 0,
	NVMF_TREQ_REQUIRED = 1, /* the port's secure channel (TLS) is required */
	NVMF_TREQ_NOT_REQUIRED = 2,
	NVMF_TREQ_DISABLE_SQFLOW = (1 << 2),
	NVMF_TCP_SECTYPE_NONE = 0,
	NVMF_TCP_SECTYPE_TLS13 = 2,
	NVMF_DISC_EFLAGS_DUPRETINFO = (1 << 0),
	NVMF_DISC_EFLAGS_NCC = (1 << 2), /* not connected to a CDC */
	NVME_CNTLID_DYNAMIC = 0xffff,
};

/* ---- Features ---- */
enum nvme_feature_id {
	NVME_FEAT_ARBITRATION = 0x01,
	NVME_FEAT_POWER_MGMT = 0x02,
	NVME_FEAT_TEMP_THRESH = 0x04,
	NVME_FEAT_ERR_RECOVERY = 0x05,
	NVME_FEAT_VOLATILE_WC = 0x06,
	NVME_FEAT_NUM_QUEUES = 0x07,
	NVME_FEAT_IRQ_COALESCE = 0x08,
	NVME_FEAT_IRQ_CONFIG = 0x09,
	NVME_FEAT_WRITE_ATOMIC = 0x0a,
	NVME_FEAT_ASYNC_EVENT = 0x0b,
	NVME_FEAT_AUTO_PST = 0x0c,
	NVME_FEAT_HOST_MEM_BUF = 0x0d,
	NVME_FEAT_TIMESTAMP = 0x0e,
	NVME_FEAT_KATO = 0x0f,
	NVME_FEAT_HOST_BEHAVIOR = 0x16,
	NVME_FEAT_HOST_ID = 0x81,
	NVME_FEAT_RESV_MASK = 0x82, /* Reservation Notification Mask */
	NVME_FEAT_RESV_PERSIST = 0x83, /* Reservation Persistence (PTPL) */
};

/* Set/Get Features: FID in cdw10 7:0, Save in cdw10 bit 31. */
#define NVME_FEAT_FID(cdw10) ((uint8_t)((cdw10) & 0xff))
#define NVME_FEAT_SAVE (1u << 31)
/* Number of Queues: NSQR in 15:0 and NCQR in 31:16, both 0-based, in cdw11 and in the result. */
#define NVME_FEAT_NSQR(v) (((v) & 0xffffu) + 1)
#define NVME_FEAT_NCQR(v) (((v) >> 16) + 1)
#define NVME_FEAT_NUM_QUEUES_RESULT(nsq, ncq) ((((ncq) - 1) << 16) | ((nsq) - 1))
#define NVME_FEAT_NUM_QUEUES_MAX 0xffff /* 1-based; asking for 65536 (0-based FFFFh) is invalid */
#define NVME_FEAT_HOST_ID_EXHID (1u << 0) /* cdw11: the 128-bit host identifier */
#define NVME_FEAT_VWC_ENABLE (1u << 0)

/* Abort's result dw0 bit 0: the command was not aborted. */
#define NVME_ABORT_NOT_ABORTED (1u << 0)

/* Asynchronous events: result dw0 = type | info << 8 | log page << 16. */
#define NVME_AER_TYPE_NOTICE 0x2
#define NVME_AER_NOTICE_NS_CHANGED 0x00
#define NVME_AER_NOTICE_ANA 0x03
#define NVME_AER_TYPE_IO_SPECIFIC 0x6
#define NVME_AER_RESV_LOG_AVAILABLE 0x00
#define NVME_AEN_CFG_NS_ATTR (1u << 8)
#define NVME_AEN_CFG_ANA_CHANGE (1u << 11)
#define NVME_AER_RESULT(type, info, lid) ((uint32_t)(type) | ((uint32_t)(info) << 8) | ((uint32_t)(lid) << 16))

#endif
