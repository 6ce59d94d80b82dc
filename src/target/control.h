/* The target's local control socket and its JSON configuration (nvmetcli's format). */
#ifndef TIGHTROPE_TARGET_CONTROL_H
#define TIGHTROPE_TARGET_CONTROL_H

#include "target/target.h"

#define TGT_DEFAULT_CTL_PATH "/run/tightrope/target.sock"

int tgt_control_listen(const char *path);
void tgt_control_serve(int listen_fd);

/* Load an nvmetcli-style config (hosts, ports, subsystems); 0 or -errno with a logged reason. */
int tgt_config_load(const char *path);
/* Write the running state back in the same format (atomically: temp file + rename). */
int tgt_config_save(const char *path);

/* Accept loop, control socket and signals; returns when SIGINT/SIGTERM arrive. */
int tgt_run(int ctl_fd);
void tgt_accept(struct tgt_listener *l);

#endif
