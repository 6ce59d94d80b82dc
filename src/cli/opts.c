/* The command-line flags that name a controller and the host, shared by the host verbs (connect,
 * discover, id-ctrl, ...) and bench: nvme-cli's names, one parser. */
#include <errno.h>
#include <string.h>

#include "cli/cli.h"
#include "tightrope/host.h"

int cli_conn_option(int c, const char *arg, struct cli_conn *cc)
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
	default: return 1;
	}
}
