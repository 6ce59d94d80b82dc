/* `tightrope gen-dhchap-key` and `check-dhchap-key`: DH-HMAC-CHAP secrets with nvme-cli's options
 * and output, so a box without nvme-cli can make and check the keys hosts and targets share. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "nvme/dhchap_key.h"
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
