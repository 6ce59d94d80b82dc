/* The path record a host process keeps in STATE_DIR/ctrl/trN.json for each of its paths (one per
 * controller), as a C struct: the host process writes it, `tightrope list`/`disconnect` read it. The JSON keys are an interface (tests and
 * `list-subsys -o json` read them): they live in record.c only. */
#ifndef TIGHTROPE_HOST_RECORD_H
#define TIGHTROPE_HOST_RECORD_H

#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>

#include "nvme/spec.h"

/* "live", "connecting", "deleting", and "dead" for a record whose process is gone. */
enum hostd_rec_state { HREC_LIVE, HREC_CONNECTING, HREC_DELETING, HREC_DEAD };

struct hostd_rec_ns {
	uint32_t nsid;
	char file[PATH_MAX]; /* the FUSE file, MOUNTPOINT/nNSID */
	char loop[32]; /* "/dev/loopN", or "" without one */
	uint64_t nsze; /* blocks */
	uint32_t lba_size; /* bytes */
};

struct hostd_record {
	char name[16]; /* "trN"; "" in a record just claimed and not written yet */
	int pid;
	enum hostd_rec_state state;
	int attempt; /* reconnect attempts so far in this outage */
	int max_attempts; /* -1 = no limit */
	int next_attempt_in_s; /* as of written_at */
	int64_t written_at; /* time(2) of writing */
	char traddr[NVMF_TRADDR_SIZE + 1], trsvcid[NVMF_TRSVCID_SIZE + 1];
	char subnqn[NVME_NQN_SIZE + 1], hostnqn[NVME_NQN_SIZE + 1];
	/* In-band authentication of the admin queue: "none", "dhchap" (we proved ourselves) or
	 * "dhchap-bidirectional" (the controller did too). What was proven, never with what secret. */
	char auth[24];
	int cntlid;
	char serial[21], model[41], firmware[9];
	char mountpoint[PATH_MAX];
	/* The host process this path belongs to: its name (its first path's, e.g. "tr0"), its control
	 * socket, the subsystem's I/O policy; and the path's ANA state for its first namespace. */
	char subsys[16];
	char sock[PATH_MAX];
	char iopolicy[16];
	char ana_state[20];
	char last_error[256];
	int nr_ns;
	struct hostd_rec_ns *ns; /* nr_ns of them, malloc'd: hostd_record_clear() frees them */
};

const char *hostd_rec_state_name(enum hostd_rec_state s);

/* To and from the JSON object; from_json takes what is there (missing keys read as "" or 0) and
 * returns 0, or -EINVAL when 'o' is not an object, or -ENOMEM. */
json_object *hostd_record_to_json(const struct hostd_record *r);
int hostd_record_from_json(json_object *o, struct hostd_record *r);

/* The file: written whole through PATH.tmp and a rename, so a reader sees the old or the new one. */
int hostd_record_write(const char *path, const struct hostd_record *r);
int hostd_record_read(const char *path, struct hostd_record *r);

void hostd_record_clear(struct hostd_record *r);

#endif
