/* The command-line flags that name a controller and the host, shared by the host verbs (connect,
 * discover, id-ctrl, ...) and bench: nvme-cli's names, one parser. */
#include <errno.h>
#include <string.h>

#include "cli/cli.h"
#include "tightrope/host.h"

/* The secrets given, out of argv. Longer than any DHHC-1 secret is malformed: it is kept as a string
 * that says so rather than cut to one that might parse. */
static char secrets[2][160];

static const char *take_secret(char *arg, int which)
{
	if (strlen(arg) < sizeof(secrets[which]))
		strcpy(secrets[which], arg);
	else
		strcpy(secrets[which], "(too long)");
	memset(arg, '*', strlen(arg));
	return secrets[which];
}

/* A key given inline is a secret like the others; a file's name is not. */
static const char *take_tls_key(char *arg)
{
	static char key[160];

	if (strncmp(arg, "NVMeTLSkey-", 11))
		return arg;
	if (strlen(arg) < sizeof(key))
		strcpy(key, arg);
	else
		strcpy(key, "(too long)"); /* kept malformed rather than cut to something that might parse */
	memset(arg, '*', strlen(arg));
	return key;
}

int cli_conn_option(int c, char *arg, struct cli_conn *cc)
{
	switch (c) {
	case 't': return strcmp(arg, "tcp") ? -EPROTONOSUPPORT : 0;
	case 'a': cc->o->traddr = arg; return 0;
	case 's': cc->o->trsvcid = arg; return 0;
	case 'n': cc->o->subnqn = arg; return 0;
	case 'q': cc->hostnqn = arg; return 0;
	case 'I': cc->hostid = arg; return 0;
	case 'g': cc->o->hdr_digest = true; return 0;
	case 'G': cc->o->data_digest = true; return 0;
	case 'S': cc->o->dhchap_secret = take_secret(arg, 0); return 0;
	case 'C': cc->o->dhchap_ctrl_secret = take_secret(arg, 1); return 0;
	case CLI_OPT_TLS: cc->o->tls = true; return 0;
	case CLI_OPT_TLS_KEY: cc->o->tls_key = take_tls_key(arg); return 0;
	default: return 1;
	}
}
