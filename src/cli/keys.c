/* `tightrope gen-dhchap-key` and `check-dhchap-key` (DH-HMAC-CHAP secrets), `gen-tls-key` and
 * `check-tls-key` (NVMe/TCP TLS PSKs), with nvme-cli's options and output, so a box without nvme-cli
 * can make and check the keys hosts and targets share. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "nvme/dhchap_key.h"
#include "nvme/tls_psk.h"
#include "util/parse.h"

#define HOSTNQN_FILE "/etc/nvme/hostnqn"

static void gen_usage(FILE *out)
{
	fprintf(out, "usage: tightrope gen-dhchap-key [-s|--secret HEX] [-l|--key-length 32|48|64] [-m|--hmac 0-3]\n"
		     "                                [-n|--nqn HOSTNQN]\n"
		     "Print a DH-HMAC-CHAP secret in the DHHC-1 form, as nvme gen-dhchap-key does: a random one, or\n"
		     "--secret given in hex. With --hmac 1-3 (SHA-256/384/512) the secret is transformed for the host\n"
		     "NQN (--nqn, else " HOSTNQN_FILE ") and the key length is the hash's.\n");
}

/* A hex string into at most max bytes; the count, or -EINVAL. */
static int parse_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 > max)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return (int)(n / 2);
}

static int read_hostnqn(char *out, size_t len)
{
	FILE *f = fopen(HOSTNQN_FILE, "r");
	bool ok;

	if (!f)
		return -errno;
	ok = fgets(out, (int)len, f) != NULL;
	fclose(f);
	out[strcspn(out, "\r\n")] = 0;
	return ok && *out ? 0 : -ENOENT;
}

int cmd_gen_dhchap_key(int argc, char **argv)
{
	static const struct option opts[] = { { "secret", required_argument, NULL, 's' },
					      { "key-length", required_argument, NULL, 'l' },
					      { "hmac", required_argument, NULL, 'm' },
					      { "nqn", required_argument, NULL, 'n' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	uint8_t secret[NVME_DHCHAP_KEY_MAX];
	char nqn_buf[256], out[NVME_DHCHAP_SECRET_MAX];
	const char *nqn = NULL, *secret_hex = NULL;
	long len = 0, hmac = 0;
	struct nvme_dhchap_key key;
	int c, n = 0, err;

	while ((c = getopt_long(argc, argv, "s:l:m:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': secret_hex = optarg; break;
		case 'l':
			if (tr_parse_long(optarg, 32, 64, &len) || (len != 32 && len != 48 && len != 64)) {
				fprintf(stderr, "tightrope gen-dhchap-key: invalid key length '%s' (32, 48 or 64)\n", optarg);
				return 2;
			}
			break;
		case 'm':
			if (tr_parse_long(optarg, 0, 3, &hmac)) {
				fprintf(stderr, "tightrope gen-dhchap-key: invalid HMAC '%s' (0 none, 1 SHA-256, 2 SHA-384, "
						"3 SHA-512)\n", optarg);
				return 2;
			}
			break;
		case 'n': nqn = optarg; break;
		case 'h': gen_usage(stdout); return 0;
		default: gen_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		gen_usage(stderr);
		return 2;
	}
	/* A transformed key is as long as its hash: the HMAC's output. */
	if (hmac && len && (size_t)len != nvme_auth_hash_len((uint8_t)hmac)) {
		fprintf(stderr, "tightrope gen-dhchap-key: a key transformed with %s is %zu bytes, not %ld\n",
			nvme_auth_hash_name((uint8_t)hmac), nvme_auth_hash_len((uint8_t)hmac), len);
		return 2;
	}
	if (!len)
		len = hmac ? (long)nvme_auth_hash_len((uint8_t)hmac) : 32;
	if (secret_hex) {
		n = parse_hex(secret_hex, secret, sizeof(secret));
		if (n != (int)len) {
			fprintf(stderr, "tightrope gen-dhchap-key: the secret must be %ld bytes in hex (%ld characters)\n",
				len, 2 * len);
			return 2;
		}
	}
	if (hmac && !nqn) {
		err = read_hostnqn(nqn_buf, sizeof(nqn_buf));
		if (err) {
			fprintf(stderr, "tightrope gen-dhchap-key: no host NQN to transform the key for: give --nqn, or "
					"write one to " HOSTNQN_FILE " (%s)\n", strerror(-err));
			return 1;
		}
		nqn = nqn_buf;
	}
	err = nvme_dhchap_key_generate(secret_hex ? secret : NULL, (uint32_t)len, (uint8_t)hmac, nqn, &key);
	if (!err)
		err = nvme_dhchap_key_format(&key, out, sizeof(out));
	if (err) {
		fprintf(stderr, "tightrope gen-dhchap-key: %s\n", strerror(-err));
		return 1;
	}
	printf("%s\n", out);
	return 0;
}

int cmd_check_dhchap_key(int argc, char **argv)
{
	static const struct option opts[] = { { "key", required_argument, NULL, 'k' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *secret = NULL;
	struct nvme_dhchap_key key;
	int c, err;

	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		if (c == 'k')
			secret = optarg;
		else {
			fprintf(c == 'h' ? stdout : stderr, "usage: tightrope check-dhchap-key -k|--key DHHC-1:NN:...:\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!secret || optind < argc) {
		fprintf(stderr, "usage: tightrope check-dhchap-key -k|--key DHHC-1:NN:...:\n");
		return 2;
	}
	err = nvme_dhchap_key_parse(secret, &key);
	if (err) {
		fprintf(stderr, "tightrope check-dhchap-key: %s\n",
			err == -EBADMSG ? "CRC mismatch: the key was mistyped or cut"
			: err == -ERANGE ? "the key is not 32, 48 or 64 bytes"
					 : "not a DHHC-1 secret (DHHC-1:NN:base64:, NN 00 to 03)");
		return 1;
	}
	printf("Key is valid (HMAC %s, %u bytes)\n", nvme_auth_hash_name(key.hash), key.len);
	return 0;
}

/* gen-tls-key's and check-tls-key's options: nvme-cli 2.13's names and letters. */
struct tls_opts {
	const char *hostnqn, *subnqn, *keyfile, *secret, *keydata;
	long hmac, identity;
};

#define TLS_SHORTOPTS "k:t:n:c:f:I:io:h"
#define TLS_OPTIONS                                      \
	{ "keyring", required_argument, NULL, 'k' },     \
	{ "keytype", required_argument, NULL, 't' },     \
	{ "hostnqn", required_argument, NULL, 'n' },     \
	{ "subsysnqn", required_argument, NULL, 'c' },   \
	{ "keyfile", required_argument, NULL, 'f' },     \
	{ "identity", required_argument, NULL, 'I' },    \
	{ "insert", no_argument, NULL, 'i' },            \
	{ "output-format", required_argument, NULL, 'o' }, \
	{ "help", no_argument, NULL, 'h' }

static void gen_tls_usage(FILE *out)
{
	fprintf(out, "usage: tightrope gen-tls-key [-m|--hmac 1|2] [-s|--secret HEX]\n"
		     "                             [-f|--keyfile FILE -c|--subsysnqn NQN [-n|--hostnqn NQN] [-I|--identity 0|1]]\n"
		     "Print a configured TLS PSK in the NVMe PSK interchange form (NVMeTLSkey-1:01:...:), as nvme\n"
		     "gen-tls-key does: random, or --secret in hex; --hmac 1 (SHA-256, 32 bytes, the default) or 2\n"
		     "(SHA-384, 48 bytes). --keyfile appends the line nvme-cli appends after --insert: the PSK identity\n"
		     "for the host (--hostnqn, else " HOSTNQN_FILE ") and subsystem, then the TLS PSK derived\n"
		     "for it. tightrope does not use the kernel keyring: --insert, --keyring, --keytype are refused.\n");
}

static void check_tls_usage(FILE *out)
{
	fprintf(out, "usage: tightrope check-tls-key -d|--keydata NVMeTLSkey-1:HH:...: -c|--subsysnqn NQN [-n|--hostnqn NQN]\n"
		     "                               [-I|--identity 0|1] [-f|--keyfile FILE]\n"
		     "Check a TLS PSK in the interchange form and print its PSK identity for the host (--hostnqn,\n"
		     "else " HOSTNQN_FILE ") and subsystem, as nvme check-tls-key does. --keyfile appends the\n"
		     "line nvme-cli appends after --insert: the identity, then the TLS PSK derived for it (libnvme\n"
		     "1.13's derivation, what the Linux host and target find in their .nvme keyring). tightrope does\n"
		     "not use the kernel keyring: --insert, --keyring, --keytype are refused.\n");
}

/* One of the shared options; 0 taken, 1 not one of them, 2 a usage error already reported. */
static int tls_option(const char *cmd, int c, const char *arg, struct tls_opts *o)
{
	switch (c) {
	case 'n': o->hostnqn = arg; return 0;
	case 'c': o->subnqn = arg; return 0;
	case 'f': o->keyfile = arg; return 0;
	case 'I':
		if (tr_parse_long(arg, 0, 1, &o->identity)) {
			fprintf(stderr, "tightrope %s: invalid TLS identity version '%s' (0 or 1)\n", cmd, arg);
			return 2;
		}
		return 0;
	case 'k':
	case 't':
	case 'i':
		fprintf(stderr, "tightrope %s: --insert, --keyring and --keytype work on the kernel's keyring, which "
				"tightrope does not use; --keyfile FILE appends the derived TLS PSK the way nvme-cli does "
				"after --insert\n", cmd);
		return 2;
	case 'o':
		/* nvme-cli 2.13 prints the same text whatever the format: only that one is offered. */
		if (strcmp(arg, "normal")) {
			fprintf(stderr, "tightrope %s: output format '%s': only 'normal'\n", cmd, arg);
			return 2;
		}
		return 0;
	default: return 1;
	}
}

/* Append "<identity> <TLS PSK>" to path, created 0600 (the key is a secret), as nvme-cli's
 * append_keyfile; a regular file is also made 0600 if it existed. 0, or 1 after saying why. */
static int append_keyfile(const char *cmd, const char *path, const char *identity, const struct nvme_tls_psk *tls)
{
	char line[NVME_TLS_KEYFILE_LINE_MAX + 1];
	struct stat st;
	size_t len;
	int fd, err;
	ssize_t n;

	err = nvme_tls_keyfile_line(identity, tls, line, sizeof(line) - 1);
	if (err) {
		fprintf(stderr, "tightrope %s: %s\n", cmd, strerror(-err));
		return 1;
	}
	len = strlen(line);
	line[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "tightrope %s: %s: %s\n", cmd, path, strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) != 0600 && fchmod(fd, 0600))
		fprintf(stderr, "tightrope %s: %s: chmod 600: %s\n", cmd, path, strerror(errno));
	n = write(fd, line, len);
	err = n == (ssize_t)len ? 0 : n < 0 ? errno : EIO;
	if (close(fd) && !err)
		err = errno;
	explicit_bzero(line, sizeof(line));
	if (err) {
		fprintf(stderr, "tightrope %s: %s: %s\n", cmd, path, strerror(err));
		return 1;
	}
	return 0;
}

/* The identity for the host (given, else HOSTNQN_FILE) and subsystem, and the TLS PSK for it. 0, or
 * 1 after saying why. */
static int tls_derive(const char *cmd, const struct tls_opts *o, const struct nvme_tls_psk *key,
		      char identity[NVME_TLS_IDENTITY_MAX], struct nvme_tls_psk *tls)
{
	const char *hostnqn = o->hostnqn;
	char nqn_buf[256];
	int err;

	if (!hostnqn) {
		err = read_hostnqn(nqn_buf, sizeof(nqn_buf));
		if (err) {
			fprintf(stderr, "tightrope %s: no host NQN: give --hostnqn, or write one to " HOSTNQN_FILE " (%s)\n",
				cmd, strerror(-err));
			return 1;
		}
		hostnqn = nqn_buf;
	}
	err = nvme_tls_psk_derive(key, (unsigned)o->identity, hostnqn, o->subnqn, identity, NVME_TLS_IDENTITY_MAX,
				  tls);
	if (err) {
		fprintf(stderr, "tightrope %s: %s\n", cmd,
			err == -EINVAL ? "an NQN is empty or longer than 255 characters" : strerror(-err));
		return 1;
	}
	return 0;
}

int cmd_gen_tls_key(int argc, char **argv)
{
	static const struct option opts[] = { TLS_OPTIONS,
					      { "secret", required_argument, NULL, 's' },
					      { "hmac", required_argument, NULL, 'm' },
					      { NULL, 0, NULL, 0 } };
	struct tls_opts o = { .hmac = NVME_TLS_HASH_SHA256 };
	char out[NVME_TLS_PSK_STR_MAX], identity[NVME_TLS_IDENTITY_MAX];
	uint8_t secret[NVME_TLS_PSK_MAX];
	struct nvme_tls_psk key, tls;
	int c, r, err;

	while ((c = getopt_long(argc, argv, TLS_SHORTOPTS "s:m:", opts, NULL)) != -1) {
		r = tls_option("gen-tls-key", c, optarg, &o);
		if (r == 1 && c == 's')
			o.secret = optarg;
		else if (r == 1 && c == 'm') {
			if (tr_parse_long(optarg, 1, 2, &o.hmac)) {
				fprintf(stderr, "tightrope gen-tls-key: invalid HMAC '%s' (1 SHA-256, 2 SHA-384)\n", optarg);
				return 2;
			}
		} else if (r == 1 || c == 'h') {
			gen_tls_usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		} else if (r)
			return r;
	}
	if (optind < argc) {
		gen_tls_usage(stderr);
		return 2;
	}
	if (o.keyfile && !o.subnqn) {
		fprintf(stderr, "tightrope gen-tls-key: --keyfile needs the subsystem the key is for (--subsysnqn)\n");
		return 2;
	}
	if (o.secret && parse_hex(o.secret, secret, sizeof(secret)) != (o.hmac == 1 ? 32 : 48)) {
		fprintf(stderr, "tightrope gen-tls-key: the secret must be %d bytes in hex (%d characters) for --hmac %ld\n",
			o.hmac == 1 ? 32 : 48, o.hmac == 1 ? 64 : 96, o.hmac);
		return 2;
	}
	err = nvme_tls_psk_generate(o.secret ? secret : NULL, (uint8_t)o.hmac, &key);
	explicit_bzero(secret, sizeof(secret));
	if (!err)
		err = nvme_tls_psk_format(&key, out, sizeof(out));
	if (err) {
		fprintf(stderr, "tightrope gen-tls-key: %s\n", strerror(-err));
		return 1;
	}
	printf("%s\n", out);
	explicit_bzero(out, sizeof(out));
	if (o.keyfile) {
		fflush(stdout);
		r = tls_derive("gen-tls-key", &o, &key, identity, &tls);
		if (!r)
			r = append_keyfile("gen-tls-key", o.keyfile, identity, &tls);
	} else
		r = 0;
	explicit_bzero(&key, sizeof(key));
	explicit_bzero(&tls, sizeof(tls));
	return r;
}

int cmd_check_tls_key(int argc, char **argv)
{
	static const struct option opts[] = { TLS_OPTIONS,
					      { "keydata", required_argument, NULL, 'd' },
					      { NULL, 0, NULL, 0 } };
	char identity[NVME_TLS_IDENTITY_MAX];
	struct nvme_tls_psk key, tls;
	struct tls_opts o = { 0 };
	int c, r, err;

	while ((c = getopt_long(argc, argv, TLS_SHORTOPTS "d:", opts, NULL)) != -1) {
		r = tls_option("check-tls-key", c, optarg, &o);
		if (r == 1 && c == 'd')
			o.keydata = optarg;
		else if (r == 1 || c == 'h') {
			check_tls_usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		} else if (r)
			return r;
	}
	if (!o.keydata || optind < argc) {
		check_tls_usage(stderr);
		return 2;
	}
	err = nvme_tls_psk_parse(o.keydata, &key);
	if (err) {
		fprintf(stderr, "tightrope check-tls-key: %s\n",
			err == -EBADMSG ? "CRC mismatch: the key was mistyped or cut"
			: err == -ERANGE ? "the key's length does not fit its hash (01: 32 bytes, 02: 48, 00: either)"
					 : "not a TLS PSK in the interchange form (NVMeTLSkey-1:HH:base64:, HH 00 to 02)");
		return 1;
	}
	if (!o.subnqn) {
		fprintf(stderr, "tightrope check-tls-key: the key is valid; its identity needs the subsystem NQN "
				"(--subsysnqn)\n");
		explicit_bzero(&key, sizeof(key));
		return 2;
	}
	r = tls_derive("check-tls-key", &o, &key, identity, &tls);
	if (!r) {
		printf("%s\n", identity);
		fflush(stdout);
		if (o.keyfile)
			r = append_keyfile("check-tls-key", o.keyfile, identity, &tls);
	}
	explicit_bzero(&key, sizeof(key));
	explicit_bzero(&tls, sizeof(tls));
	return r;
}
