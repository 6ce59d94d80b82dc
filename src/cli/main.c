/* `tightrope`: one command, one subcommand per job (target, ctl, ...), in nvme-cli's spirit. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "tightrope/version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tightrope <command> [options]\n"
		"\n"
		"commands:\n"
		"  target    run an NVMe/TCP target exporting RAM, files and block devices\n"
		"  ctl       talk to a running target: list, add-ns, remove-ns, allow-host, forbid-host, save\n"
		"  connect   attach a remote namespace as a local file and block device (nvme-cli's flags)\n"
		"  connect-all     discover, then connect every subsystem listed\n"
		"  list      list attached namespaces, with each controller's state (-o json)\n"
		"  list-subsys     list attached subsystems and their paths\n"
		"  disconnect      detach by -n NQN or -d DEVICE; disconnect-all detaches everything\n"
		"  id-ns     connect and print Identify Namespace\n"
		"  discover  print the discovery log of an NVMe/TCP discovery controller (nvme-cli's flags)\n"
		"  bench     measure a remote namespace and/or a local file or device (fio's options)\n"
		"  id-ctrl   connect to a controller and print its Identify Controller data\n"
		"  gen-dhchap-key  make a DH-HMAC-CHAP secret (nvme-cli's options); check-dhchap-key checks one\n"
		"  gen-tls-key     make a TLS PSK (nvme-cli's options); check-tls-key checks one, prints its identity\n"
		"  version   print the version\n"
		"\n"
		"'tightrope <command> --help' explains each command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "target"))
		return cmd_target(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} host_verbs[] = { { "connect", cmd_connect },	   { "connect-all", cmd_connect_all },
			   { "list", cmd_list },	   { "list-subsys", cmd_list_subsys },
			   { "disconnect", cmd_disconnect }, { "disconnect-all", cmd_disconnect_all },
			   { "id-ns", cmd_id_ns },	   { "gen-dhchap-key", cmd_gen_dhchap_key },
			   { "check-dhchap-key", cmd_check_dhchap_key }, { "gen-tls-key", cmd_gen_tls_key },
			   { "check-tls-key", cmd_check_tls_key } };

	for (size_t i = 0; i < sizeof(host_verbs) / sizeof(host_verbs[0]); i++)
		if (!strcmp(argv[1], host_verbs[i].name))
			return host_verbs[i].fn(argc - 1, argv + 1);
	if (!strcmp(argv[1], "discover"))
		return cmd_discover(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bench"))
		return cmd_bench(argc - 1, argv + 1);
	if (!strcmp(argv[1], "id-ctrl"))
		return cmd_id_ctrl(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("tightrope %s\n", TR_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "tightrope: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
