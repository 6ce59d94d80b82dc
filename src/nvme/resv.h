/* Persistent reservations of one namespace (NVMe Base 2.0, 8.19): the registrants keyed by Host
 * Identifier, the reservation and its holder, and the rules of Register, Acquire, Release, Report and
 * of every other command under a reservation. Pure state: no locks, no sockets; the caller serialises
 * the calls on a namespace and delivers the notices (log page entries, AENs, fencing) they ask for. */
#ifndef TIGHTROPE_NVME_RESV_H
#define TIGHTROPE_NVME_RESV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reservation types (RTYPE, Acquire/Release CDW10 bits 15:08; Report's RTYPE). */
enum nvme_resv_type {
	NVME_RESV_NONE = 0,
	NVME_RESV_WRITE_EXCLUSIVE = 1,
	NVME_RESV_EXCLUSIVE_ACCESS = 2,
	NVME_RESV_WRITE_EXCLUSIVE_REG_ONLY = 3,
	NVME_RESV_EXCLUSIVE_ACCESS_REG_ONLY = 4,
	NVME_RESV_WRITE_EXCLUSIVE_ALL_REGS = 5,
	NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS = 6,
};

/* Actions, CDW10 bits 02:00 of each command. */
enum { NVME_RESV_REGISTER = 0, NVME_RESV_UNREGISTER = 1, NVME_RESV_REPLACE = 2 };
enum { NVME_RESV_ACQUIRE = 0, NVME_RESV_PREEMPT = 1, NVME_RESV_PREEMPT_ABORT = 2 };
enum { NVME_RESV_RELEASE = 0, NVME_RESV_CLEAR = 1 };
#define NVME_RESV_IEKEY (1u << 3) /* CDW10 bit 3: Ignore Existing Key */
/* Register's CPTPL, CDW10 bits 31:30: 0 no change, 1 reserved, 2 clear PTPL, 3 set it. */
#define NVME_RESV_CPTPL(cdw10) ((cdw10) >> 30)

/* Reservation Notification log page (80h) entry types; the mask feature (82h) bit of each is 1 << type. */
enum nvme_resv_notice {
	NVME_RESV_NOTICE_EMPTY = 0,
	NVME_RESV_NOTICE_REG_PREEMPTED = 1,
	NVME_RESV_NOTICE_RELEASED = 2,
	NVME_RESV_NOTICE_PREEMPTED = 3,
};

/* Statuses these commands add ((SCT << 8) | SC). */
#define NVME_SC_HOST_ID_INCONSISTENT 0x018
#define NVME_SC_RESERVATION_CONFLICT 0x083

/* Every registrant takes one slot: a bound on what hosts can make a namespace hold. */
#define NVME_RESV_MAX_REGISTRANTS 64

struct nvme_resv_registrant {
	uint8_t hostid[16];
	uint64_t rkey;
};

struct nvme_resv {
	struct nvme_resv_registrant reg[NVME_RESV_MAX_REGISTRANTS]; /* in the order they registered */
	unsigned nreg;
	uint8_t rtype; /* enum nvme_resv_type; NONE: no reservation */
	/* The holder's slot in reg[]; for the All Registrants types every registrant holds it and this
	 * is the first of them (what Report marks is decided by the type). */
	int holder;
	uint32_t generation; /* moves on every change of the registrations (Report's GEN) */
	bool ptpl; /* Persist Through Power Loss: the caller keeps this state across restarts */
};

/* What a command asks the caller to do besides answering: notify a host (every controller with that
 * Host Identifier, unless its mask says no), and, for Preempt and Abort, fence a host's commands. */
struct nvme_resv_effects {
	void (*notify)(void *arg, const uint8_t hostid[16], enum nvme_resv_notice type);
	void (*abort)(void *arg, const uint8_t hostid[16]);
	void *arg;
};

void nvme_resv_init(struct nvme_resv *r);

/* The three commands' actions, from CDW10 and their 16- or 24-byte data (keys little-endian in the
 * data as sent; the caller decodes them). Each returns an NVMe status (0 on success, DNR included). */
uint16_t nvme_resv_register(struct nvme_resv *r, const uint8_t hostid[16], uint32_t cdw10, uint64_t crkey,
			    uint64_t nrkey, const struct nvme_resv_effects *fx);
uint16_t nvme_resv_acquire(struct nvme_resv *r, const uint8_t hostid[16], uint32_t cdw10, uint64_t crkey,
			   uint64_t prkey, const struct nvme_resv_effects *fx);
uint16_t nvme_resv_release(struct nvme_resv *r, const uint8_t hostid[16], uint32_t cdw10, uint64_t crkey,
			   const struct nvme_resv_effects *fx);

/* Reservation Report with the extended data structure (CDW11 EDS; 128-bit Host Identifiers) into
 * 'buf' of 'len' bytes: what fits, with REGCTL counting every registrant. The status (Host Identifier
 * Inconsistent Format without EDS, Invalid Field for a buffer shorter than the 64-byte header). */
uint16_t nvme_resv_report(const struct nvme_resv *r, bool eds, uint8_t *buf, size_t len);

/* The command groups a reservation restricts (NVMe Base 2.0, Figure "Command Behavior in the
 * Presence of a Reservation"): reads (Read, Compare, Verify) and writes (Write, Write Zeroes,
 * Write Uncorrectable, DSM, Flush... whatever modifies the medium). */
enum nvme_resv_access { NVME_RESV_ACCESS_NONE, NVME_RESV_ACCESS_READ, NVME_RESV_ACCESS_WRITE };

/* 0, or Reservation Conflict for a command of 'access' from 'hostid' under the current reservation. */
uint16_t nvme_resv_check(const struct nvme_resv *r, const uint8_t hostid[16], enum nvme_resv_access access);

/* The registrant of a Host Identifier, or NULL. */
const struct nvme_resv_registrant *nvme_resv_find(const struct nvme_resv *r, const uint8_t hostid[16]);

#endif
