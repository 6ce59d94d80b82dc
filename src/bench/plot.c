/* --plot: an SVG with two panels, IOPS per run (local beside remote, or one bar per sweep value)
 * and the latency distribution, for readers who would rather look than read a table. */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "bench/sweep.h"

#define W 900
#define H 380
#define PAD 60

static void bar(FILE *f, double x, double y, double w, double h, const char *color, const char *label, double value)
{
	fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>\n", x, y, w, h, color);
	fprintf(f, "<text x='%.1f' y='%.1f' font-size='11' text-anchor='middle'>%.0f</text>\n", x + w / 2, y - 4, value);
	if (label)
		fprintf(f, "<text x='%.1f' y='%d' font-size='12' text-anchor='middle'>%s</text>\n", x + w / 2,
			H - PAD + 18, label);
}

static void panel_iops(FILE *f, double x0, double width, const char *sweep_key, const struct bench_plot_row *rows,
		       int n)
{
	double max = 1, plot_h = H - 2 * PAD, slot;

	for (int i = 0; i < n; i++) {
		if (rows[i].local && bench_result_iops(rows[i].local) > max)
			max = bench_result_iops(rows[i].local);
		if (rows[i].remote && bench_result_iops(rows[i].remote) > max)
			max = bench_result_iops(rows[i].remote);
	}
	fprintf(f, "<text x='%.1f' y='30' font-size='15' text-anchor='middle'>IOPS%s%s (blue: local, orange: remote)</text>\n",
		x0 + width / 2, sweep_key ? " by " : "", sweep_key ? sweep_key : "");
	fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='black'/>\n", x0, H - PAD, x0 + width, H - PAD);
	slot = width / n;
	for (int i = 0; i < n; i++) {
		double x = x0 + slot * i + slot * 0.15, bw = slot * 0.35;
		char label[32];

		snprintf(label, sizeof(label), "%s=%ld", sweep_key ? sweep_key : "run", rows[i].x);
		if (rows[i].local) {
			double h = plot_h * bench_result_iops(rows[i].local) / max;

			bar(f, x, H - PAD - h, bw, h, "#4878cf", rows[i].remote ? NULL : label, bench_result_iops(rows[i].local));
		}
		if (rows[i].remote) {
			double h = plot_h * bench_result_iops(rows[i].remote) / max;

			bar(f, x + bw, H - PAD - h, bw, h, "#e8884a", NULL, bench_result_iops(rows[i].remote));
		}
		if (sweep_key)
			fprintf(f, "<text x='%.1f' y='%d' font-size='12' text-anchor='middle'>%s</text>\n", x + bw,
				H - PAD + 18, label);
	}
}

/* Latency histogram on a log2 time axis: one bar per power of two of microseconds. */
static void panel_hist(FILE *f, double x0, double width, const struct bench_plot_row *row)
{
	const struct bench_result *rs[2] = { row->local, row->remote };
	static const char *const colors[2] = { "#4878cf", "#e8884a" };
	double frac[2][40] = { { 0 } }, max = 0.0001, plot_h = H - 2 * PAD;
	int lo = 40, hi = 0;

	for (int k = 0; k < 2; k++) {
		const struct bench_lat *l;

		if (!rs[k])
			continue;
		l = bench_result_main_lat(rs[k]);
		for (int i = 0; i < BENCH_HIST_BUCKETS; i++) {
			int msb = i < BENCH_HIST_SUB ? 0 : i / BENCH_HIST_SUB + 4;
			int b = msb > 10 ? msb - 10 : 0; /* 2^10 ns ~ 1 us */

			if (!l->hist[i] || !l->ios)
				continue;
			if (b > 39)
				b = 39;
			frac[k][b] += (double)l->hist[i] / (double)l->ios;
			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
		}
	}
	for (int k = 0; k < 2; k++)
		for (int b = 0; b < 40; b++)
			max = frac[k][b] > max ? frac[k][b] : max;
	if (lo > hi)
		return;
	fprintf(f, "<text x='%.1f' y='30' font-size='15' text-anchor='middle'>latency distribution (share of I/Os)</text>\n",
		x0 + width / 2);
	fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='black'/>\n", x0, H - PAD, x0 + width, H - PAD);
	for (int b = lo; b <= hi; b++) {
		double slot = width / (hi - lo + 1), x = x0 + slot * (b - lo);
		char label[32];

		snprintf(label, sizeof(label), "%.0fus", ldexp(1, b) * 1.024);
		fprintf(f, "<text x='%.1f' y='%d' font-size='10' text-anchor='middle'>%s</text>\n", x + slot / 2,
			H - PAD + 18, label);
		for (int k = 0; k < 2; k++) {
			double h = plot_h * frac[k][b] / max;

			if (rs[k] && frac[k][b] > 0)
				fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s' opacity='0.8'/>\n",
					x + slot * (0.1 + 0.4 * k), H - PAD - h, slot * 0.4, h, colors[k]);
		}
	}
}

int bench_plot_svg(const char *path, const char *sweep_key, const struct bench_plot_row *rows, int n)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif'>\n"
		   "<rect width='100%%' height='100%%' fill='white'/>\n", W * 2, H);
	panel_iops(f, PAD, W - 2 * PAD, sweep_key, rows, n);
	panel_hist(f, W + PAD, W - 2 * PAD, &rows[n - 1]);
	fprintf(f, "</svg>\n");
	return fclose(f) ? -errno : 0;
}
