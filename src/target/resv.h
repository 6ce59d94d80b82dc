/* Persistent reservations on the target: each namespace's state (src/nvme/resv.c's rules under a
 * lock), the four Reservation commands, the access check every I/O command passes, and the notices
 * (log page 80h and its event) that go to the controllers of the hosts concerned. */
#ifndef TIGHTROPE_TARGET_RESV_H
#define TIGHTROPE_TARGET_RESV_H

#include <pthread.h>

#include "nvme/resv.h"
#include "target/cmd.h"

struct tgt_resv {
	pthread_mutex_t lock; /* the state; taken by workers (commands) and never while holding another lock */
	struct nvme_resv state;
	_Atomic uint32_t notify_mask; /* Reservation Notification Mask (feature 82h): bit n masks notice type n */
	/* Commands that passed the access check, by epoch parity: a Preempt and Abort moves the epoch and
	 * completes once the old epoch's commands have all finished, so nothing of the preempted host
	 * lands after it. */
	_Atomic unsigned epoch;
	_Atomic long inflight[2];
};

/* A namespace's reservations come and go with it. */
struct tgt_resv *tgt_resv_new(void);
void tgt_resv_free(struct tgt_resv *r);

/* Parse step of the Reservation commands (Register, Report, Acquire, Release): checks their data and
 * picks the handler; 0 or the status. */
uint16_t tgt_resv_parse(struct tgt_cmd *cmd);

/* The access check of every other I/O command to 'ns' from this queue's host: 0, or Reservation
 * Conflict. Lock-free while the namespace has no reservation. */
uint16_t tgt_resv_check_io(const struct tgt_queue *q, struct tgt_ns *ns, uint8_t opcode);

/* A command about to execute on a namespace with registrants: counted in the current epoch and checked
 * again; 0, or Reservation Conflict (then it is not counted). tgt_resv_leave when it completes. */
uint16_t tgt_resv_enter(struct tgt_cmd *cmd);
void tgt_resv_leave(struct tgt_cmd *cmd);

/* Persist Through Power Loss (resv_store.c): where the states go (STATE/reservations; NULL: PTPL is
 * not offered), whether it is, a namespace's state written after a change (removed when PTPL is
 * off), and read back when the namespace opens. */
int tgt_resv_store_init(const char *state_dir);
bool tgt_resv_store_available(void);
int tgt_resv_store_save(const struct tgt_ns *ns);
void tgt_resv_store_load(struct tgt_ns *ns);

/* Log page 80h for this controller (one notice, the oldest; consumed unless RAE). */
uint16_t tgt_resv_log_page(struct tgt_cmd *cmd, uint8_t *page, uint32_t *len);

/* Features 82h (mask) and 83h (persistence) of namespace nsid (FFFFFFFFh: all of them, Set only). */
uint16_t tgt_resv_set_feature(struct tgt_cmd *cmd, uint8_t fid);
uint16_t tgt_resv_get_feature(struct tgt_cmd *cmd, uint8_t fid);

#endif
