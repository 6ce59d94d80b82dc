/* Reloading the config file into the running target: `ctl reload`, SIGHUP, systemd's ExecReload. */
#ifndef TIGHTROPE_TARGET_RELOAD_H
#define TIGHTROPE_TARGET_RELOAD_H

#include <stddef.h>

/* tgt_run's side: an eventfd to watch (or -1) once the target serves, which also sends systemd
 * READY=1; the reload a request or SIGHUP asks for, run on that thread; STOPPING=1 at the end. */
int tgt_reload_start(int epfd);
void tgt_reload_serve(void);
void tgt_reload_signal(void);
void tgt_reload_stop(void);
/* The control thread's side: reload path (NULL: the --config file) on the main thread and wait.
 * 0, or -errno with why[] saying what was wrong; a refused config has changed nothing. */
int tgt_reload_request(const char *path, char *why, size_t why_len);

#endif
