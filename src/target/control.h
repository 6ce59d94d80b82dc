/* The target's local control socket and its JSON configuration (nvmetcli's format). */
#ifndef TIGHTROPE_TARGET_CONTROL_H
#define TIGHTROPE_TARGET_CONTROL_H

#include "target/target.h"

#define TGT_DEFAULT_CTL_PATH "/run/tightrope/target.sock"

struct tgt_control;

/* Bind the control socket at path (created 0600) and serve it from a thread of its own. Refuses
 * (-EADDRINUSE) when another target answers on the path and leaves a non-socket there alone;
 * removes a stale socket nobody answers on. Logs why it failed. */
int tgt_control_start(const char *path, struct tgt_control **ctl);
/* Stop the thread, close every client, and unlink the path if it is still the socket we bound. */
void tgt_control_stop(struct tgt_control *ctl);

/* Load an nvmetcli-style config (hosts, ports, subsystems); 0 or -errno with a logged reason:
 * -EINVAL for a malformed entry or a key of the wrong type, -ERANGE for an NSID or port ID out of
 * range, -EEXIST for a subsystem or NSID given twice, -ENOENT for a port naming an unknown
 * subsystem, or what opening a namespace's storage said. A refused entry leaves nothing of itself
 * behind, but the entries before it stay: the target's start-up gives up on any error. */
int tgt_config_load(const char *path);
/* Write the running state back in the same format (atomically: temp file + rename). */
int tgt_config_save(const char *path);

/* Accept loop and signals; returns when SIGINT/SIGTERM arrive. */
int tgt_run(void);
void tgt_accept(struct tgt_listener *l);

#endif
