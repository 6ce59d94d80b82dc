/* `tightrope list` and `list-subsys`, in nvme-cli 2.x's layouts, from the path records the host
 * processes keep: one device per namespace however many paths reach it, and each subsystem with
 * its paths, their states and ANA states. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/host_args.h"
#include "host/record.h"

static void fmt_size(char *out, size_t len, double bytes)
{
	static const char *const u[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	int i = 0;

	while (bytes >= 1000 && i < 5)
		bytes /= 1000, i++;
	snprintf(out, len, "%6.2f %2s", bytes, u[i]);
}

static void state_text(const struct hostd_record *r, char *out, size_t len)
{
	if (r->state == HREC_CONNECTING) {
		int64_t max = r->max_attempts;
		int64_t left = r->next_attempt_in_s - ((int64_t)time(NULL) - r->written_at);

		snprintf(out, len, "connecting (attempt %lld of %s%lld, next in %lld s)", (long long)r->attempt + 1,
			 max < 0 ? "unlimited" : "", max < 0 ? 0LL : (long long)max, (long long)(left > 0 ? left : 0));
		if (max < 0)
			snprintf(out, len, "connecting (attempt %lld, no limit, next in %lld s)",
				 (long long)r->attempt + 1, (long long)(left > 0 ? left : 0));
	} else if (r->state == HREC_DEAD) {
		snprintf(out, len, "dead (host process gone; disconnect-all cleans up)");
	} else {
		snprintf(out, len, "%s", hostd_rec_state_name(r->state));
	}
}

/* "dhchap" or "dhchap-bidirectional" for a controller that authenticated, else NULL. */
static const char *auth_of(const struct hostd_record *r)
{
	return r->auth[0] && strcmp(r->auth, "none") ? r->auth : NULL;
}

/* One namespace in nvme-cli's `list -o json` layout. */
static json_object *list_json_dev(const struct hostd_record *r, const struct hostd_rec_ns *n, const char *state)
{
	json_object *d = json_object_new_object();
	double bytes = (double)n->nsze * (double)n->lba_size;

	json_object_object_add(d, "NameSpace", json_object_new_int((int)n->nsid));
	json_object_object_add(d, "DevicePath", json_object_new_string(n->loop[0] ? n->loop : n->file));
	json_object_object_add(d, "File", json_object_new_string(n->file));
	json_object_object_add(d, "Controller", json_object_new_string(r->name));
	json_object_object_add(d, "Firmware", json_object_new_string(r->firmware));
	json_object_object_add(d, "ModelNumber", json_object_new_string(r->model));
	json_object_object_add(d, "SerialNumber", json_object_new_string(r->serial));
	json_object_object_add(d, "UsedBytes", json_object_new_int64((int64_t)bytes));
	json_object_object_add(d, "MaximumLBA", json_object_new_int64((int64_t)n->nsze));
	json_object_object_add(d, "PhysicalSize", json_object_new_int64((int64_t)bytes));
	json_object_object_add(d, "SectorSize", json_object_new_int((int)n->lba_size));
	json_object_object_add(d, "SubsystemNQN", json_object_new_string(r->subnqn));
	json_object_object_add(d, "State", json_object_new_string(state));
	json_object_object_add(d, "Auth", json_object_new_string(auth_of(r) ? auth_of(r) : "none"));
	return d;
}

/* One namespace as a line of nvme-cli's `list` table. */
static void list_text_dev(const struct hostd_record *r, const struct hostd_rec_ns *n, const char *state)
{
	double bytes = (double)n->nsze * (double)n->lba_size;
	char used[16], total[16], usage_s[40], format[24];

	fmt_size(used, sizeof(used), bytes);
	fmt_size(total, sizeof(total), bytes);
	snprintf(usage_s, sizeof(usage_s), "%s / %s", used, total);
	snprintf(format, sizeof(format), "%-5lld B +  0 B", (long long)n->lba_size);
	printf("%-21s %-6s %-20s %-40s %-9lld %-26s %-16s %-8s %s%s%s\n", n->loop[0] ? n->loop : n->file, r->name,
	       r->serial, r->model, (long long)n->nsid, usage_s, format, r->firmware, state,
	       auth_of(r) ? ", auth: " : "", auth_of(r) ? auth_of(r) : "");
}

/* Records of one host process belong together: the same subsys name and pid (a dead process's too). */
static bool same_process(const struct hostd_record *a, const struct hostd_record *b)
{
	return a->pid == b->pid && !strcmp(a->subsys, b->subsys);
}

/* Is record i the first of its host process's? */
static bool subsys_first(const struct hostd_record *recs, int n, int i)
{
	(void)n;
	for (int k = 0; k < i; k++)
		if (same_process(&recs[k], &recs[i]))
			return false;
	return true;
}

/* The record that speaks for a process's devices: a live path's if there is one. */
static const struct hostd_record *subsys_best(const struct hostd_record *recs, int n, int i)
{
	for (int k = i; k < n; k++)
		if (same_process(&recs[k], &recs[i]) && recs[k].state == HREC_LIVE)
			return &recs[k];
	return &recs[i];
}

/* Records in name order (tr0, tr1, ... tr10), as the kernel numbers its controllers. */
static int rec_cmp(const void *a, const void *b)
{
	const struct hostd_record *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->name, y->name);
}

static int list_sorted(struct hostd_record **recs)
{
	int n = hostd_list(state_dir_path(), recs);

	if (n > 1)
		qsort(*recs, (size_t)n, sizeof(**recs), rec_cmp);
	return n;
}

int cmd_list(int argc, char **argv)
{
	static const char usage[] = "usage: tightrope list [-o normal|json]\nList attached namespaces.\n";
	json_object *out = NULL, *devs = NULL;
	struct hostd_record *recs;
	struct conn_args a;
	int rc = parse_conn(argc, argv, &a, usage, 2), n;

	if (rc)
		return rc == 1 ? 0 : rc;
	n = list_sorted(&recs);
	if (a.json) {
		out = json_object_new_object();
		devs = json_object_new_array();
	} else {
		printf("%-21s %-6s %-20s %-40s %-9s %-26s %-16s %-8s %s\n", "Node", "Ctrl", "SN", "Model", "Namespace",
		       "Usage", "Format", "FW Rev", "State");
		printf("--------------------- ------ -------------------- ---------------------------------------- "
		       "--------- -------------------------- ---------------- -------- -----\n");
	}
	for (int i = 0; i < n; i++) {
		const struct hostd_record *r = subsys_first(recs, n, i) ? subsys_best(recs, n, i) : NULL;
		char st[160];

		if (!r)
			continue; /* a namespace is one device however many paths: listed with its subsystem once */
		state_text(r, st, sizeof(st));
		if (r->nr_ns == 0 && !a.json)
			printf("%-21s %-6s %-20s %-40s %-9s %-26s %-16s %-8s %s\n", "-", r->name, r->serial, r->model, "-",
			       "-", "-", r->firmware, st);
		for (int k = 0; k < r->nr_ns; k++) {
			if (a.json)
				json_object_array_add(devs, list_json_dev(r, &r->ns[k], st));
			else
				list_text_dev(r, &r->ns[k], st);
		}
	}
	if (a.json) {
		json_object_object_add(out, "Devices", devs);
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY));
		json_object_put(out);
	}
	hostd_list_free(recs, n);
	return 0;
}

/* A path's state as list-subsys shows it: nvme-cli's "live", "connecting", "deleting", or "dead". */
static const char *path_state(const struct hostd_record *r)
{
	return hostd_rec_state_name(r->state);
}

/* nvme-cli 2.x's `list-subsys -o json`: per host NQN, its subsystems, each with its paths; every
 * path also carries our record's keys (pid, auth, cntlid, ...). */
static void list_subsys_json(const struct hostd_record *recs, int n)
{
	json_object *arr = json_object_new_array();

	for (int i = 0; i < n; i++) {
		json_object *host, *subs, *sub, *paths;
		bool seen = false;

		for (int k = 0; k < i; k++)
			seen |= !strcmp(recs[k].hostnqn, recs[i].hostnqn);
		if (seen)
			continue;
		host = json_object_new_object();
		subs = json_object_new_array();
		json_object_object_add(host, "HostNQN", json_object_new_string(recs[i].hostnqn));
		for (int s1 = i; s1 < n; s1++) {
			if (strcmp(recs[s1].hostnqn, recs[i].hostnqn) || !subsys_first(recs, n, s1))
				continue;
			sub = json_object_new_object();
			paths = json_object_new_array();
			json_object_object_add(sub, "Name", json_object_new_string(recs[s1].subsys[0] ? recs[s1].subsys : recs[s1].name));
			json_object_object_add(sub, "NQN", json_object_new_string(recs[s1].subnqn));
			json_object_object_add(sub, "IOPolicy", json_object_new_string(recs[s1].iopolicy[0] ? recs[s1].iopolicy : "numa"));
			for (int k = s1; k < n; k++) {
				json_object *p;
				char addr[NVMF_TRADDR_SIZE + NVMF_TRSVCID_SIZE + 32];

				if (!same_process(&recs[k], &recs[s1]))
					continue;
				p = hostd_record_to_json(&recs[k]);
				snprintf(addr, sizeof(addr), "traddr=%s,trsvcid=%s", recs[k].traddr, recs[k].trsvcid);
				json_object_object_add(p, "Name", json_object_new_string(recs[k].name));
				json_object_object_add(p, "Transport", json_object_new_string("tcp"));
				json_object_object_add(p, "Address", json_object_new_string(addr));
				json_object_object_add(p, "State", json_object_new_string(path_state(&recs[k])));
				json_object_object_add(p, "ANAState", json_object_new_string(recs[k].ana_state));
				json_object_array_add(paths, p);
			}
			json_object_object_add(sub, "Paths", paths);
			json_object_array_add(subs, sub);
		}
		json_object_object_add(host, "Subsystems", subs);
		json_object_array_add(arr, host);
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
	json_object_put(arr);
}

int cmd_list_subsys(int argc, char **argv)
{
	static const char usage[] = "usage: tightrope list-subsys [-o normal|json]\n"
				    "Each attached subsystem and its paths, with their states and ANA states.\n";
	struct hostd_record *recs;
	struct conn_args a;
	int rc = parse_conn(argc, argv, &a, usage, 2), n;

	if (rc)
		return rc == 1 ? 0 : rc;
	n = list_sorted(&recs);
	if (a.json) {
		list_subsys_json(recs, n);
		hostd_list_free(recs, n);
		return 0;
	}
	/* One block per host process (subsystem and host NQN), each path under it, as nvme-cli prints. */
	for (int i = 0; i < n; i++) {
		const struct hostd_record *h = &recs[i];

		if (!subsys_first(recs, n, i))
			continue;
		printf("%s - NQN=%s\n", h->subsys[0] ? h->subsys : h->name, h->subnqn);
		printf("%*s hostnqn=%s\n", (int)strlen(h->subsys[0] ? h->subsys : h->name) + 2, "", h->hostnqn);
		printf("%*s iopolicy=%s\n\\\n", (int)strlen(h->subsys[0] ? h->subsys : h->name) + 2, "",
		       h->iopolicy[0] ? h->iopolicy : "numa");
		for (int k = i; k < n; k++) {
			const struct hostd_record *r = &recs[k];
			char st[160];

			if (!same_process(r, h))
				continue;
			state_text(r, st, sizeof(st));
			printf(" +- %s tcp traddr=%s,trsvcid=%s %s%s%s%s%s\n", r->name, r->traddr, r->trsvcid, st,
			       r->ana_state[0] && r->state != HREC_DEAD ? " " : "",
			       r->state != HREC_DEAD ? r->ana_state : "", auth_of(r) ? ", auth: " : "",
			       auth_of(r) ? auth_of(r) : "");
		}
	}
	hostd_list_free(recs, n);
	return 0;
}

