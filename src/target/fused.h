/* Fused operations (NVMe Base 2.0, 3.4.2) on an I/O queue: a FIRST and a SECOND command paired as they
 * arrive, held until both have their data, then run as one (Compare and Write, io_cmd.c); the statuses
 * the spec names for halves that do not pair. */
#ifndef TIGHTROPE_TARGET_FUSED_H
#define TIGHTROPE_TARGET_FUSED_H

#include <stdint.h>

struct tgt_cmd;

/* Every capsule, in its queue's order, once prepared with 'status': the status it is to have now (its
 * FUSE bits checked; a FIRST that waited for it is aborted if it is not the SECOND). */
uint16_t tgt_fused_arrive(struct tgt_cmd *cmd, uint16_t status);
/* A fused half whose data are in (it is EXECUTING): wait for the other half, or run the pair. */
void tgt_fused_ready(struct tgt_cmd *cmd);
/* A fused half completes before its pair ran (its data failed, say): the other half is aborted. */
void tgt_fused_abandon(struct tgt_cmd *cmd);
/* Its slot goes (the queue closed): no pointer to it may remain. */
void tgt_fused_forget(struct tgt_cmd *cmd);

/* io_cmd.c: run a pair whose halves both have their data: compare, and write only if equal. */
void tgt_io_fused_run(struct tgt_cmd *first, struct tgt_cmd *second);

#endif
