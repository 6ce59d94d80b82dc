/* The host process's control socket (STATE_DIR/ctrl/NAME.sock), its side: requests from the CLI. */
#ifndef TIGHTROPE_HOST_HOSTD_CTL_H
#define TIGHTROPE_HOST_HOSTD_CTL_H

struct hostd;

int hostd_ctl_listen(const char *path);
/* One request: "disconnect" (every path), "disconnect NAME" (one path), "status", or "add-path"
 * followed by the path's options as JSON. The answer comes once the request is done. */
void hostd_ctl_accept(struct hostd *h);

#endif
